"""RFC 9110 8.6: a server MUST NOT send Content-Length in a 204 (No Content). The proxy is the
client's server: an HTTP/2 upstream's 204 that carries `content-length: 0` (as many frameworks
send it) and a direct_response 204 reach the client without it."""

from _live import Proxy, Upstream, check, connect, h2_app, http_config, ok, read_response, request_bytes

routes = [
    {"match": {"prefix": "/direct"}, "direct_response": {"status": 204}},
    {"match": {"prefix": "/"}, "route": {"cluster": "app"}},
]
# h2_app sends content-length with every answer, the empty body of a 204 included.
with (
    Upstream(h2_app(lambda path: (204, b"", [(b"x-done", b"1")]))) as up,
    Proxy(http_config(up.port, routes=routes, cluster={"protocol": "HTTP2"})) as proxy,
):
    answers = {}
    for path in ("/item/1", "/direct"):
        with connect(proxy.port("web")) as sock:
            sock.sendall(request_bytes("DELETE", path))
            answers[path] = read_response(sock, "DELETE")
for path, what in (("/item/1", "the HTTP/2 upstream's 204"), ("/direct", "the direct_response 204")):
    answer = answers[path]
    check(answer is not None and answer[0] == 204, f"DELETE {path} got {answer and answer[0]} instead of 204")
    lengths = [v for n, v in answer[1] if n == "content-length"]
    check(not lengths, f"{what} reached the HTTP/1.1 client with content-length {lengths}")
ok("the upstream's 204 and the direct 204 reached the client without content-length")
