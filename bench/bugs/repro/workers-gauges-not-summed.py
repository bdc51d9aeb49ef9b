"""`--concurrency 2`: the parent's /stats sums the workers' gauges as it sums their counters (Envoy
sums each gauge over its workers): with connections open on both workers, the listener's
downstream_cx_active and the cluster's upstream_cx_active count every open connection."""

import time

from _live import Proxy, Upstream, broken, check, connect, echo, ok, recv_until, tcp_config

MAX_CLIENTS = 40

with Upstream(echo) as up, Proxy(tcp_config(up.port, admin=True), args=("--concurrency", "2")) as proxy:
    clients, stats = [], {}
    try:
        while len(clients) < MAX_CLIENTS:
            sock = connect(proxy.port("tcp"))
            clients.append(sock)
            sock.sendall(b"ping")
            if recv_until(sock, 4) != b"ping":
                broken("a client connection was not echoed")
            stats = proxy.stats()
            per_worker = [stats.get(f"listener.tcp.worker_{i}.downstream_cx_active", 0) for i in (0, 1)]
            if len(clients) >= 4 and all(per_worker) and sum(per_worker) == len(clients):
                break
            time.sleep(0.01)
        else:
            broken(f"the two workers never both held connections: {per_worker}")
        open_now = len(clients)
    finally:
        for sock in clients:
            sock.close()
listener_active = stats.get("listener.tcp.downstream_cx_active")
cluster_active = stats.get("cluster.app.upstream_cx_active")
check(
    listener_active == open_now and cluster_active == open_now,
    f"{open_now} connections open ({per_worker} per worker): /stats says listener.tcp.downstream_cx_active "
    f"{listener_active}, cluster.app.upstream_cx_active {cluster_active}",
)
ok(f"/stats counted all {open_now} open connections of both workers")
