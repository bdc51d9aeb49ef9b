"""Cluster connection accounting: an upstream connection that failed to connect no longer counts as
open. With max_connections 2 and a host that refuses every connection, each request is answered 503
for the connect failure (UF) and upstream_cx_active returns to 0; a failed attempt never fills the
circuit breaker (which would turn every later request into an overflow, UO, for good)."""

from _live import Proxy, check, free_port, http1_request, http_config, ok, wait_for

CONFIG = dict(admin=True, cluster={"max_connections": 2, "connect_timeout_ms": 1000})

with Proxy(http_config(free_port(), **CONFIG)) as proxy:  # nothing listens on the upstream port
    answers = [http1_request(proxy.port("web"), "GET", f"/{i}") for i in range(4)]
    wait_for(lambda: proxy.stats().get("cluster.app.upstream_cx_active") == 0, timeout=2)
    stats = proxy.stats()
bodies = [(status, body) for status, _, body in answers]
check(
    all(status == 503 and body == b"upstream connect error\n" for status, body in bodies),
    f"four requests to a host that refuses connections got {bodies} (a connect failure each, not an overflow)",
)
check(
    stats.get("cluster.app.upstream_cx_active") == 0 and not stats.get("cluster.app.upstream_cx_overflow"),
    f"after four refused connects cluster.app.upstream_cx_active is {stats.get('cluster.app.upstream_cx_active')} "
    f"and upstream_cx_overflow {stats.get('cluster.app.upstream_cx_overflow')} (max_connections 2)",
)
ok("refused connects were counted as failures and freed their circuit-breaker slots")
