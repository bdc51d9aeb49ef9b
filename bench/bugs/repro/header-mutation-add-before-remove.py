"""header_mutation replaces a header when it lists the name both to remove and to add: removal
first, then the added value (Envoy's request_headers_to_remove / request_headers_to_add; the
proxy's semantics.md "forwarded request fields": remove, then append). A client's own `x-user`
never reaches the upstream, the configured one always does; the same for a response's `server`."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

MUTATION = {
    "header_mutation": {
        "request_headers_to_remove": ["x-user"],
        "request_headers_to_add": {"x-user": "anonymous"},
        "response_headers_to_remove": ["server"],
        "response_headers_to_add": {"server": "edge"},
    }
}

with (
    Upstream(http1_app(lambda request: (200, [("server", "backend/1.2")], b"ok"))) as up,
    Proxy(http_config(up.port, filters=[MUTATION])) as proxy,
):
    status, headers, _ = http1_request(proxy.port("web"), "GET", "/", [("x-user", "root")])
check(status == 200 and len(up.requests) == 1, f"the request got {status}; the upstream saw {len(up.requests)}")
users = [v for n, v in up.requests[0][2] if n == "x-user"]
check(users == ["anonymous"], f"the upstream saw x-user {users}; the client sent 'root', the filter replaces it")
servers = [v for n, v in headers if n == "server"]
check(servers == ["edge"], f"the client saw server {servers}; the upstream sent 'backend/1.2', the filter replaces it")
ok("header_mutation replaced x-user and server")
