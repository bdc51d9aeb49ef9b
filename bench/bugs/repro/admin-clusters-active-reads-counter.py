"""Admin /clusters: a cluster's upstream_cx_active is the number of its connections open now (as in
/stats, and Envoy's /clusters cx_active). With two clients proxied to the cluster, it says 2."""

import json

from _live import Proxy, Upstream, check, connect, echo, http1_request, ok, recv_until, tcp_config

with Upstream(echo) as up, Proxy(tcp_config(up.port, admin=True)) as proxy:
    clients = [connect(proxy.port("tcp")) for _ in range(2)]
    try:
        for sock in clients:
            sock.sendall(b"ping")
            check(recv_until(sock, 4) == b"ping", "a client connection was not echoed")
        status, _, body = http1_request(proxy.admin_port, "GET", "/clusters?format=json")
        stats = proxy.stats()
    finally:
        for sock in clients:
            sock.close()
check(status == 200, f"/clusters answered {status}")
app = next(c for c in json.loads(body)["clusters"] if c["name"] == "app")
check(
    app["upstream_cx_active"] == 2 == stats.get("cluster.app.upstream_cx_active"),
    f"with 2 connections open /clusters says upstream_cx_active {app['upstream_cx_active']}, "
    f"/stats says {stats.get('cluster.app.upstream_cx_active')}",
)
ok("/clusters counted both open upstream connections")
