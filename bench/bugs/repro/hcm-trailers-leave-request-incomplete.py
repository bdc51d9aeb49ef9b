"""request_timeout_ms: a request the client sent whole (its body ended by trailers) whose upstream
never answers gets 504, not 408 (408 tells the client its own request was incomplete)."""

from _live import Proxy, Responses, Upstream, check, connect, http1_app, http_config, ok

with (
    Upstream(http1_app(lambda request: None)) as up,  # reads the request, never answers
    Proxy(http_config(up.port, hcm={"request_timeout_ms": 500})) as proxy,
):
    with connect(proxy.port("web")) as sock:
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: repro\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n"
            b"5\r\nhello\r\n0\r\nx-checksum: 5\r\n\r\n"
        )
        answer = Responses(sock).next("POST")
check(answer is not None, "no answer to the POST within the client's timeout")
check(answer[0] == 504, f"a complete request (ended by trailers) timed out upstream with {answer[0]}, expected 504")
ok("the complete request whose upstream never answered got 504")
