"""header_mutation's request_headers_to_remove removes every field of that name: a client that sends
`X-Internal-User` twice does not get one of them past a proxy configured to strip it."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

MUTATION = {"header_mutation": {"request_headers_to_remove": ["x-internal-user"]}}
with (
    Upstream(http1_app(lambda request: (200, [], b"hi"))) as up,
    Proxy(http_config(up.port, filters=[MUTATION])) as proxy,
):
    status = http1_request(
        proxy.port("web"), "GET", "/", headers=[("X-Internal-User", "admin"), ("X-Internal-User", "root")]
    )[0]
    seen = [v for _, _, headers, *_ in up.requests for n, v in headers if n == "x-internal-user"]
check(status == 200, f"the request got {status}")
check(seen == [], f"request_headers_to_remove [x-internal-user]: the upstream still received x-internal-user {seen}")
ok("both x-internal-user fields were removed before the upstream")
