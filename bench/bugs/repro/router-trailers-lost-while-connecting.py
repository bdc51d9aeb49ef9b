"""Request trailers reach a chunked HTTP/1.1 upstream also when the whole request (head, body and
trailers, one write) arrives before the proxy's upstream connection is up: the router holds the body
and the trailers until the connection is ready, then forwards them all (semantics.md "forwarded
request trailers")."""

from _live import Proxy, Upstream, check, connect, http1_app, http_config, ok, read_response

REQUEST = (
    b"POST /upload HTTP/1.1\r\nHost: repro\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n"
    b"5\r\nhello\r\n0\r\nx-checksum: abc123\r\n\r\n"
)

with Upstream(http1_app(lambda request: (200, [], b"stored"))) as up, Proxy(http_config(up.port)) as proxy:
    with connect(proxy.port("web")) as sock:
        sock.sendall(REQUEST)  # the first request: the upstream connection is still connecting
        answer = read_response(sock)
check(answer is not None and answer[0] == 200, f"the upload got {answer}")
check(len(up.requests) == 1, f"the upstream saw {len(up.requests)} requests")
method, target, headers, body, trailers = up.requests[0]
check(body == b"hello", f"the upstream got the body {body!r}")
check(
    ("x-checksum", "abc123") in trailers,
    f"the upstream got the trailers {trailers} for a request sent with 'x-checksum: abc123' "
    "(head, body and trailers arrived before the upstream connection was ready)",
)
ok("the request trailers reached the upstream")
