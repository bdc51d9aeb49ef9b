"""Weighted clusters: each cluster gets requests in proportion to its weight; with weights 1 and 1 both
clusters get some of 40 requests."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

CONFIG = dict(
    routes=[
        {
            "match": {"prefix": "/"},
            "route": {
                "weighted_clusters": {"clusters": [{"name": "app", "weight": 1}, {"name": "green", "weight": 1}]}
            },
        }
    ]
)

with (
    Upstream(http1_app(lambda r: (200, [], b"blue"))) as blue,
    Upstream(http1_app(lambda r: (200, [], b"green"))) as green,
    Proxy(http_config(blue.port, clusters=[("green", green.port)], **CONFIG)) as proxy,
):
    bodies = [http1_request(proxy.port("web"), "GET", f"/{i}")[2] for i in range(40)]
counts = {name: bodies.count(name.encode()) for name in ("blue", "green")}
check(counts["blue"] + counts["green"] == 40, f"not every request was answered: {counts}")
check(counts["blue"] >= 8 and counts["green"] >= 8, f"weights 1 and 1 split 40 requests as {counts}")
ok(f"weights 1:1 split 40 requests {counts}")
