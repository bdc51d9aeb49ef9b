"""An HTTP/1.1 upstream connection the proxy reuses frames each request by that request's own head: a
request with Content-Length after a chunked one on the same pooled connection goes out as Content-Length
says, and a GET after it carries no body at all (no stray last chunk)."""

from _live import Proxy, Responses, Upstream, check, connect, http1_app, http_config, ok

CHUNKED = b"POST /upload HTTP/1.1\r\nHost: repro\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
SIZED = b"POST /form HTTP/1.1\r\nHost: repro\r\nContent-Length: 5\r\n\r\nworld"
PLAIN = b"GET /after HTTP/1.1\r\nHost: repro\r\n\r\n"

with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(http_config(up.port)) as proxy:
    with connect(proxy.port("web")) as sock:
        responses = Responses(sock)
        statuses = []
        for raw, method in ((CHUNKED, "POST"), (SIZED, "POST"), (PLAIN, "GET")):
            sock.sendall(raw)
            answer = responses.next(method)
            statuses.append(answer[0] if answer else None)
    seen = [(method, target, body) for method, target, _, body, _ in up.requests]
    errors = [entry for log in up.connections for entry in log if isinstance(entry, str)]
expected = [("POST", "/upload", b"hello"), ("POST", "/form", b"world"), ("GET", "/after", b"")]
check(not errors, f"the upstream could not parse what the proxy sent after a chunked request: {errors}")
check(seen == expected, f"the upstream read {seen}, the client sent {expected} (statuses {statuses})")
check(statuses == [200, 200, 200], f"the three requests got {statuses}")
ok(f"three requests on one pooled upstream connection arrived as sent: {seen}")
