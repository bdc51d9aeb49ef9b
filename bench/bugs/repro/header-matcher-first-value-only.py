"""Route header matchers see every value of a repeated header, joined with ',' (RFC 9110 5.3; Envoy
since CVE-2020-25017): a request carrying `x-canary: 1` and `x-canary: 2` does not match a route that
requires `x-canary` to be exactly `1`, and an RBAC policy on a header cannot be met by adding a second
field with the wanted value."""

from _live import Proxy, check, free_port, http1_request, http_config, ok

ROUTES = [
    {
        "match": {"prefix": "/", "headers": [{"name": "x-canary", "exact": "1"}]},
        "direct_response": {"status": 200, "body": "canary"},
    },
    {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": "stable"}},
]

with Proxy(http_config(free_port(), routes=ROUTES)) as proxy:
    port = proxy.port("web")
    one = http1_request(port, "GET", "/", [("x-canary", "1")])
    two = http1_request(port, "GET", "/", [("x-canary", "1"), ("x-canary", "2")])
    swapped = http1_request(port, "GET", "/", [("x-canary", "2"), ("x-canary", "1")])
check(one[0] == 200 and one[2] == b"canary", f"x-canary: 1 got {one[0]} {one[2]!r}, not the canary route")
check(
    two[2] == b"stable" and swapped[2] == b"stable",
    f"x-canary sent twice (1 and 2) matched the route for exactly '1': bodies {two[2]!r} and {swapped[2]!r} "
    "(the values count as one, '1,2')",
)
ok("a repeated header was matched as its joined value")
