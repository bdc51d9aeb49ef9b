"""An upstream that breaks off a response after its head leaves the client with a response that is cut
short, and the client must be able to tell: RFC 9112 8 (an incomplete message must not be taken as
complete) and Envoy's router, which resets the downstream stream when the upstream resets after the
response started. Over HTTP/1.1 with a chunked body that means no last chunk: the connection ends
instead. Here the upstream sends a chunked head and one chunk, then closes its connection."""

import socket

from _live import Proxy, Upstream, check, connect, http_config, ok, read_head, recv_until


def breaks_off(sock, log) -> None:
    if read_head(sock):
        log.append("request")
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        sock.shutdown(socket.SHUT_WR)  # the body never ends: no last chunk follows


with Upstream(breaks_off) as up, Proxy(http_config(up.port)) as proxy:
    with connect(proxy.port("web")) as sock:
        sock.sendall(b"GET /download HTTP/1.1\r\nHost: repro\r\n\r\n")
        received = recv_until(sock, 1 << 20)  # to the close (or 5 s)
check(received.startswith(b"HTTP/1.1 200"), f"the response head did not come through: {received[:80]!r}")
check(
    not received.endswith(b"0\r\n\r\n"),
    "the upstream broke off its chunked body after 5 bytes and the proxy ended the client's response "
    f"with a last chunk, as if it were complete: {received[-40:]!r}",
)
ok("the response cut short by the upstream reached the client without a last chunk (the connection ended)")
