"""A header matcher with `present: false` matches a request without that header (bootstrap.proto
HeaderMatcher: "false: it must be absent"; Envoy's present_match: false): in a route it sends requests
without `x-canary` to the stable route, and in an RBAC DENY policy it refuses requests without an API key."""

from _live import Proxy, check, http1_request, http_config, ok

ABSENT = {"name": "x-canary", "present": False}
ROUTES = [
    {"match": {"prefix": "/", "headers": [ABSENT]}, "direct_response": {"status": 200, "body": "stable"}},
    {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": "canary"}},
]
NO_KEY = {"name": "no-api-key", "headers": [{"name": "x-api-key", "present": False}]}
RBAC = {"rbac": {"action": "DENY", "policies": [NO_KEY]}}

with Proxy(http_config(9, routes=ROUTES, filters=[RBAC])) as proxy:
    port = proxy.port("web")
    keyed = [("x-api-key", "k1")]
    plain = http1_request(port, "GET", "/", headers=keyed)
    canary = http1_request(port, "GET", "/", headers=keyed + [("x-canary", "1")])
    anonymous = http1_request(port, "GET", "/")
check(plain[0] == 200 and plain[2] == b"stable", f"a request without x-canary got {plain[0]} {plain[2]!r}, not stable")
check(canary[0] == 200 and canary[2] == b"canary", f"a request with x-canary got {canary[0]} {canary[2]!r}")
check(anonymous[0] == 403, f"a request without x-api-key got {anonymous[0]} {anonymous[2]!r} past the DENY policy")
ok("present: false matched the requests without the header (stable route; 403 without an API key)")
