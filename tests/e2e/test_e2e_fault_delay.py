"""The HTTP fault filter's delay through the running proxy (`python -m proxy`), driven by curl over
HTTP/1.1 and HTTP/2 prior knowledge: a delayed upload larger than the listener's buffer limit waits
for the delay and then reaches the upstream whole, as Envoy's fault filter (decodeData
StopIterationAndWatermark: "If the request is too large, stop reading new data until the buffer
drains"). Before, the held body grew past the buffer limit and the client got a 413."""

import shutil
import socketserver
import subprocess

import pytest

from tests.e2e.stack import cluster, http_config, proxy_on, upstreams

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")

BODY_BYTES = 300_000  # about 18 times the listener's buffer limit
ROUTES = ['{match: {prefix: "/"}, route: {cluster: web}}']


class _CountingHandler(socketserver.StreamRequestHandler):
    """Reads one request with a content-length body and answers how many body bytes it got."""

    def handle(self) -> None:
        length = 0
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        got = len(self.rfile.read(length))
        body = b"got %d" % got
        self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))


@pytest.fixture
def stack(tmp_path):
    with upstreams(_CountingHandler) as (server,):
        config = http_config(
            ROUTES,
            [cluster("web", server.server_address[1])],
            hcm_extra="http_filters: [{fault: {delay_ms: 300}}]",
            listener_extra="per_connection_buffer_limit_bytes: 16384",
        )
        with proxy_on(tmp_path, config) as proc:
            yield proc


@needs_curl
@pytest.mark.parametrize("flag", ["--http1.1", "--http2-prior-knowledge"])
def test_a_delayed_upload_larger_than_the_buffer_limit_reaches_the_upstream(stack, flag, tmp_path):
    upload = tmp_path / "upload.bin"
    upload.write_bytes(b"u" * BODY_BYTES)
    host, port = stack.listener_address("http_in")
    done = subprocess.run(
        ["curl", "-s", "--max-time", "10", "-w", " %{http_code}", flag, "--data-binary", f"@{upload}"]
        + [f"http://{host}:{port}/upload"],
        capture_output=True,
        timeout=20,
    )
    assert done.returncode == 0 and done.stdout == b"got %d 200" % BODY_BYTES, done
