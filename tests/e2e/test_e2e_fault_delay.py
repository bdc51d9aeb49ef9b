"""The HTTP fault filter's delay through the running proxy (`python -m proxy`), driven by curl over
HTTP/1.1 and HTTP/2 prior knowledge: a delayed upload larger than the listener's buffer limit waits
for the delay and then reaches the upstream whole, as Envoy's fault filter (decodeData
StopIterationAndWatermark: "If the request is too large, stop reading new data until the buffer
drains"). Before, the held body grew past the buffer limit and the client got a 413."""

import shutil
import socketserver
import subprocess
import threading

import pytest

from conftest import LOOPBACK
from tests.e2e.test_e2e_resources import _Upstream

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")

BODY_BYTES = 300_000  # about 18 times the listener's buffer limit
CONFIG = """
listeners:
  - name: http_in
    address: {{host: 127.0.0.1, port: 0}}
    per_connection_buffer_limit_bytes: 16384
    filter_chains:
      - filters:
          - http_connection_manager:
              codec: AUTO
              http_filters:
                - fault: {{delay_ms: 300}}
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                      - match: {{prefix: "/"}}
                        route: {{cluster: web}}
clusters:
  - name: web
    endpoints: [{{host: 127.0.0.1, port: {port}}}]
"""


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
def stack(proxy_process, tmp_path):
    server = _Upstream((LOOPBACK, 0), _CountingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = tmp_path / "proxy.yaml"
    path.write_text(CONFIG.format(port=server.server_address[1]))
    proc = proxy_process(path)
    proc.wait_ready()
    yield proc
    server.shutdown()
    server.server_close()


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
