"""Upstreams that stall, through the running proxy (`python -m proxy`) to real clients (curl over
HTTP/1.1 and HTTP/2 prior knowledge): the timeouts a user configured end what they promise to end.
The upstream here reads one request head per connection and answers as its path says."""

import shutil
import socket
import socketserver
import subprocess
import threading

import pytest

from conftest import LOOPBACK
from tests.e2e.stack import web_config
from tests.e2e.test_e2e_resources import _stats, _Upstream

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")

# path -> what the upstream writes, then it waits (without closing) until the proxy closes
SCRIPTS: dict[bytes, bytes] = {
    # Head and half the body, then nothing: only a timeout can end this exchange.
    b"/stalled-body": b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhalf",
    b"/silent": b"",
}


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock, held = self.request, b""
        while b"\r\n\r\n" not in held:
            data = sock.recv(65536)
            if not data:
                return
            held += data
        sock.sendall(SCRIPTS.get(held.split(b" ", 2)[1], b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"))
        sock.settimeout(30)
        try:
            while sock.recv(65536):
                pass
        except (socket.timeout, OSError):
            return


@pytest.fixture
def stack(proxy_process, tmp_path):
    server = _Upstream((LOOPBACK, 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = tmp_path / "proxy.yaml"
    path.write_text(web_config(server.server_address[1], route="timeout_ms: 500", max_connections=8))
    proc = proxy_process(path)
    proc.wait_ready()
    yield proc
    server.shutdown()
    server.server_close()


def _curl(flag: str, address, path: str) -> subprocess.CompletedProcess:
    url = f"http://{address[0]}:{address[1]}{path}"
    return subprocess.run(["curl", "-s", "-i", "--max-time", "10", flag, url], capture_output=True, timeout=20)


@needs_curl
@pytest.mark.parametrize("flag", ["--http1.1", "--http2-prior-knowledge"])
def test_a_route_timeout_ends_a_response_whose_body_stalls(stack, flag):
    """Envoy's RouteAction.timeout spans "until the upstream response has been completely
    processed". The router stopped it at the response head, so a body the upstream stalled held the
    client until its own --max-time (curl exit 28; stream_idle_timeout, 5 min, was all that was left).
    Now the stream is reset at the route timeout: curl sees a cut body (exit 18) or a stream error (92)."""
    done = _curl(flag, stack.listener_address("http_in"), "/stalled-body")
    assert done.returncode in (18, 92), done
    assert _stats(stack).get("cluster.web.upstream_rq_timeout") == 1


@needs_curl
@pytest.mark.parametrize("flag", ["--http1.1", "--http2-prior-knowledge"])
def test_a_route_timeout_answers_504_to_a_silent_upstream(stack, flag):
    done = _curl(flag, stack.listener_address("http_in"), "/silent")
    assert done.returncode == 0 and b" 504" in done.stdout.split(b"\r\n", 1)[0], done
