"""Route safe_regex: the expression must match the whole path (Envoy's safe_regex is a full match), not
a piece of it."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

CONFIG = dict(
    routes=[
        {
            "match": {"safe_regex": {"regex": "/internal/[a-z]+"}},
            "direct_response": {"status": 403, "body": "internal"},
        },
        {"match": {"prefix": "/"}, "route": {"cluster": "app"}},
    ]
)

with Upstream(http1_app(lambda request: (200, [], b"public"))) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    got = {
        path: http1_request(proxy.port("web"), "GET", path)[0]
        for path in ("/internal/stats", "/docs/internal/howto", "/internal/stats.json")
    }
check(got["/internal/stats"] == 403, f"GET /internal/stats got {got['/internal/stats']}")
wrong = {p: s for p, s in got.items() if p != "/internal/stats" and s != 200}
check(not wrong, f"paths the regex /internal/[a-z]+ does not match as a whole took its route: {wrong}")
ok(f"only the whole-path match took the regex route: {got}")
