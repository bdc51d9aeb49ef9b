"""Issue 13's resource defects through the running proxy (`python -m proxy`, real sockets on
127.0.0.1) in front of a plain HTTP/1.1 upstream written here (each response in one write, or an
endless body): a pooled upstream connection stays usable after a response filled a client's buffer
(defect 9), stalled HTTP/2 streams hold a bounded amount of memory (defect 3), one stream over the
concurrency limit is refused alone (defect 7), and the flood limits hold (defect 8)."""

import socket
import socketserver
import threading

import pytest

from conftest import LOOPBACK, connect, recv_all


class _Upstream(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


class _Handler(socketserver.BaseRequestHandler):
    """Keep-alive HTTP/1.1 for GETs: `/fill/N` answers N bytes in one write, `/big` an endless
    body (until the proxy goes away), anything else `ok`."""

    def handle(self) -> None:
        sock, held = self.request, b""
        while True:
            while b"\r\n\r\n" not in held:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                held += data
            head, held = held.split(b"\r\n\r\n", 1)
            path = head.split(b" ", 2)[1]
            try:
                if path == b"/big":
                    self.server.big_started.release()
                    sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (1 << 40))
                    chunk = b"b" * 65536
                    while True:
                        sock.sendall(chunk)
                body = b"x" * int(path[6:]) if path.startswith(b"/fill/") else b"ok"
                sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            except OSError:
                return


@pytest.fixture
def upstream():
    server = _Upstream((LOOPBACK, 0), _Handler)
    server.big_started = threading.Semaphore(0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _config(upstream_port: int, *, buffer_limit: int = 1 << 20, hcm_extra: str = "", route_extra: str = "") -> str:
    return f"""
listeners:
  - name: http_in
    address: {{host: 127.0.0.1, port: 0}}
    per_connection_buffer_limit_bytes: {buffer_limit}
    filter_chains:
      - filters:
          - http_connection_manager:
              codec: AUTO{hcm_extra}
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                      - match: {{prefix: "/"}}
                        route: {{cluster: web{route_extra}}}
clusters:
  - name: web
    max_connections: 1
    endpoints: [{{host: 127.0.0.1, port: {upstream_port}}}]
"""


def _start(proxy_process, tmp_path, text: str):
    path = tmp_path / "proxy.yaml"
    path.write_text(text)
    proxy = proxy_process(path)
    proxy.wait_ready()
    return proxy, proxy.listener_address("http_in")


def _get(address, path: bytes) -> bytes:
    with connect(address) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path)
        return recv_all(s)


def test_pooled_connection_is_reused_after_a_response_filled_the_clients_buffer(proxy_process, tmp_path, upstream):
    """Defect 9: a response bigger than the client's 1 KiB buffer arrives in one upstream read and
    completes the exchange; the next request on the pooled connection (max_connections 1) must get
    the upstream's answer, not a 504 once the 3 s route timeout runs out."""
    _, address = _start(proxy_process, tmp_path, _config(upstream.server_address[1], buffer_limit=1024,
                                                         route_extra=", timeout_ms: 3000"))
    first = _get(address, b"/fill/8000")
    assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"x" * 8000)
    second = _get(address, b"/next")
    assert second.startswith(b"HTTP/1.1 200"), second[:60]
    assert second.endswith(b"\r\n\r\nok")
