"""Cluster gauge upstream_rq_pending_active counts the requests waiting for a connection: once every
request was answered it is back at 0. Here a cluster of two hosts with max_connections 1 sends the
second request (round robin: the other host, which can get no connection) over the idle connection
to the first host."""

import time

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

with (
    Upstream(http1_app(lambda request: (200, [], b"a"))) as a,
    Upstream(http1_app(lambda request: (200, [], b"b"))) as b,
):
    cluster = {
        "lb_policy": "ROUND_ROBIN",
        "max_connections": 1,
        "endpoints": [{"host": "127.0.0.1", "port": a.port}, {"host": "127.0.0.1", "port": b.port}],
    }
    with Proxy(http_config(a.port, cluster=cluster, admin=True)) as proxy:
        statuses = []
        for _ in range(3):
            statuses.append(http1_request(proxy.port("web"), "GET", "/")[0])
            time.sleep(0.1)  # each request finds the connection idle in the pool
        stats = proxy.stats()
check(statuses == [200, 200, 200], f"three GETs got {statuses}")
pending = stats.get("cluster.app.upstream_rq_pending_active")
active = stats.get("cluster.app.upstream_rq_active")
check(
    pending == 0,
    f"with every request answered, cluster.app.upstream_rq_pending_active is {pending} (upstream_rq_active {active})",
)
ok(f"every request answered, upstream_rq_pending_active 0, upstream_rq_active {active}")
