"""An HTTP/1.1 upstream that closes its connection in the middle of a chunked body sent an incomplete
response (RFC 9112 7.1, 8: the last-chunk ends it, a close does not): the client must not receive it
as complete (Envoy resets the downstream stream; an HTTP/1.1 client sees the connection close without
the last-chunk)."""

from _live import Proxy, Upstream, check, connect, http_config, ok, recv_until, request_bytes


def cut_short(sock, log) -> None:
    if b"\r\n\r\n" not in recv_until(sock, 1 << 16, 0.3):  # the request head, then a quiet moment
        return
    log.append("request")
    sock.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")


with Upstream(cut_short) as up, Proxy(http_config(up.port)) as proxy:
    with connect(proxy.port("web")) as sock:
        sock.sendall(request_bytes("GET", "/report.js"))
        got = recv_until(sock, 1 << 20, 3.0)
check(got.startswith(b"HTTP/1.1 200"), f"the client got {got[:40]!r}, not the 200 head")
check(
    not got.endswith(b"0\r\n\r\n"),
    "the upstream closed in the middle of its chunked body, and the client got the response "
    f"complete, with a last-chunk: {got[-40:]!r}",
)
ok("the client got the head and the first chunk, then the connection closed without a last-chunk")
