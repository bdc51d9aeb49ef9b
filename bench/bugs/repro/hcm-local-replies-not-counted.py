"""HCM stats: downstream_rq_<code> and downstream_rq_<N>xx count every response a client gets, the ones
the proxy makes itself (no route 404, direct responses) included, as Envoy's do."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

ROUTES = [
    {"match": {"prefix": "/gone"}, "direct_response": {"status": 410, "body": "gone"}},
    {"match": {"prefix": "/app"}, "route": {"cluster": "app"}},
]

with (
    Upstream(http1_app(lambda request: (200, [], b"ok"))) as up,
    Proxy(http_config(up.port, routes=ROUTES, admin=True)) as proxy,
):
    port = proxy.port("web")
    statuses = [http1_request(port, "GET", path)[0] for path in ("/app", "/gone", "/nowhere")]
    stats = proxy.stats()
check(statuses == [200, 410, 404], f"the three requests got {statuses}")
counted = {k: stats.get(f"http.downstream_rq_{k}", 0) for k in ("2xx", "4xx", "410", "404")}
check(
    counted == {"2xx": 1, "4xx": 2, "410": 1, "404": 1},
    f"one 200 from the upstream, a direct 410 and a no-route 404 were counted as {counted}",
)
ok("the proxy's own 410 and 404 were counted beside the upstream's 200")
