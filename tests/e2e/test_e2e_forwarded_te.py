"""A client's `TE: trailers` through the running proxy (`python -m proxy`, raw sockets on 127.0.0.1)
to an HTTP/1.1 upstream: forwarded as `te: trailers` with the `te` connection option RFC 9110 10.1.4
requires, as Envoy's TE sanitizing keeps that value for any upstream (an HTTP/2 upstream already got
it). Before, the HTTP/1.1 upstream got no TE at all, so a server sending trailers only to clients that
take them (gRPC-Web gateways, digest trailers) never sent them through the proxy. Other codings in TE
go nowhere (the proxy decodes none)."""

import socketserver
import threading

import pytest

from conftest import LOOPBACK, connect, recv_all
from tests.e2e.stack import web_config
from tests.e2e.test_e2e_resources import _start, _Upstream


class _EchoTe(socketserver.BaseRequestHandler):
    """Answers each request with the TE and Connection lines of its head as the body, then closes."""

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head and (chunk := self.request.recv(65536)):
            head += chunk
        lines = [line for line in head.split(b"\r\n")[1:] if line.lower().startswith((b"te:", b"connection:"))]
        body = b"|".join(sorted(line.lower() for line in lines))
        self.request.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )


@pytest.fixture(scope="module")
def upstream_port():
    server = _Upstream((LOOPBACK, 0), _EchoTe)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "te,upstream_saw",
    [
        (b"trailers", b"connection: te|te: trailers"),
        (b"gzip;q=0.5, trailers", b"connection: te|te: trailers"),
        (b"deflate", b""),
        # RFC 9110 10.1.4, 5.6.4: `trailers` inside a quoted transfer-parameter is no member of the list
        (b'x-coding;p="a, trailers, b"', b""),
    ],
    ids=["trailers", "codings-and-trailers", "codings-only", "trailers-quoted-in-a-parameter"],
)
def test_te_trailers_reaches_an_http1_upstream(proxy_process, tmp_path, upstream_port, te, upstream_saw):
    _, address = _start(proxy_process, tmp_path, web_config(upstream_port))
    with connect(address) as s:
        s.sendall(b"GET /te HTTP/1.1\r\nHost: x\r\nTE: %s\r\nConnection: TE, close\r\n\r\n" % te)
        answer = recv_all(s)
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\n" + upstream_saw), answer
