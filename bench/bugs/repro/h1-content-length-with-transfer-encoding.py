"""HTTP/1.1 framing: a request with both Content-Length and Transfer-Encoding is refused with 400 (the
CL.TE request-smuggling shape; RFC 9112 6.1 lets a server reject it, and a proxy must not forward it)."""

from _live import Proxy, Upstream, check, exchange, http1_app, http_config, ok

SMUGGLE = (
    b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
)

with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(http_config(up.port)) as proxy:
    answer = exchange(proxy.port("web"), SMUGGLE)
    reached = [r[:2] for r in up.requests]
status_line = answer.split(b"\r\n", 1)[0]
check(
    status_line.startswith(b"HTTP/1.1 400") and not reached,
    f"a request with Content-Length and Transfer-Encoding: chunked got {status_line!r}; the upstream saw {reached}",
)
ok("Content-Length with Transfer-Encoding was refused with 400, nothing forwarded")
