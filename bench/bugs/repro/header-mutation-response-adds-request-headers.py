"""header_mutation: request_headers_to_add go to the upstream only, response_headers_to_add to the client
only (a header meant for the upstream, such as an internal token, never reaches clients)."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

MUTATION = {
    "header_mutation": {
        "request_headers_to_add": {"x-internal-token": "s3cret"},
        "response_headers_to_add": {"x-served-by": "proxy"},
    }
}

with (
    Upstream(http1_app(lambda request: (200, [], b"hello"))) as up,
    Proxy(http_config(up.port, filters=[MUTATION])) as proxy,
):
    status, headers, _ = http1_request(proxy.port("web"), "GET", "/")
    upstream_saw = dict(up.requests[0][2]) if up.requests else {}
names = dict(headers)
check(status == 200, f"GET / got {status}")
check(upstream_saw.get("x-internal-token") == "s3cret", f"the upstream saw {upstream_saw}")
check("x-internal-token" not in names, f"the client got the request header x-internal-token: {headers}")
check(names.get("x-served-by") == "proxy", f"the client's response lacks x-served-by: {headers}")
ok("the upstream got x-internal-token, the client x-served-by and nothing else")
