"""ROUND_ROBIN (Envoy's default load balancer) picks each host of a cluster in turn: six new upstream
connections to a cluster of three hosts go two to each host."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok


def closing(request):
    return 200, [("connection", "close")], b"hi"  # every request needs a new upstream connection


with (
    Upstream(http1_app(closing)) as a,
    Upstream(http1_app(closing)) as b,
    Upstream(http1_app(closing)) as c,
):
    hosts = [{"host": "127.0.0.1", "port": up.port} for up in (a, b, c)]
    with Proxy(http_config(a.port, cluster={"lb_policy": "ROUND_ROBIN", "endpoints": hosts})) as proxy:
        statuses = [http1_request(proxy.port("web"), "GET", f"/{i}")[0] for i in range(6)]
    counts = [len(up.requests) for up in (a, b, c)]
check(statuses == [200] * 6, f"the six requests got {statuses}")
check(counts == [2, 2, 2], f"six connections to three round-robin hosts went {counts} (two each expected)")
ok("round robin sent two of six connections to each of the three hosts")
