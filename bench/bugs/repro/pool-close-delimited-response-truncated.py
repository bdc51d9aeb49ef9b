"""An HTTP/1.1 upstream may end a response body by closing the connection (RFC 9112 6.3 rule 8: no
Content-Length, no chunked encoding): the client gets the whole body and a complete response, not
a response cut off when the upstream closes."""

import socket

from _live import Proxy, Upstream, check, http1_request, http_config, ok, recv_until


def close_delimited(sock, log) -> None:
    request = recv_until(sock, 1 << 20, timeout=1)
    log.append(request)
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"legacy body " * 100)
    sock.shutdown(socket.SHUT_WR)
    recv_until(sock, 1 << 20, timeout=1)


with Upstream(close_delimited) as up, Proxy(http_config(up.port)) as proxy:
    status, _, body = http1_request(proxy.port("web"), "GET", "/old")
check(
    status == 200 and body == b"legacy body " * 100,
    f"a response the upstream ended by closing reached the client as {status} with {len(body)} of 1200 body bytes",
)
ok("the close-delimited response reached the client whole")
