"""A client that closes its connection while its request waits for the upstream's answer is gone:
the proxy abandons the upstream request (HTTP/1.1: it closes that upstream connection), as Envoy
resets the upstream request when the downstream disconnects. Nothing keeps it open until the route
timeout."""

import time

from _live import Proxy, Upstream, check, connect, http_config, ok, recv_until, request_bytes, wait_for


def silent(sock, log) -> None:
    if b"\r\n\r\n" not in recv_until(sock, 1 << 16, 0.3):  # the request head, then a quiet moment
        return
    sock.settimeout(30)
    log.append("request")
    while sock.recv(65536):  # never answers; notes when the proxy closes
        pass
    log.append("closed")


with Upstream(silent) as up, Proxy(http_config(up.port, admin=True)) as proxy:
    sock = connect(proxy.port("web"))
    sock.sendall(request_bytes("GET", "/long-poll"))
    check(wait_for(lambda: any("request" in log for log in up.connections)), "the request never reached the upstream")
    sock.close()
    started = time.monotonic()
    closed = wait_for(lambda: any("closed" in log for log in up.connections), timeout=3.0)
    stats = proxy.stats()
active = stats.get("cluster.app.upstream_rq_active")
check(
    closed,
    f"the client left, and {time.monotonic() - started:.1f} s later the upstream request was still open "
    f"(cluster.app.upstream_rq_active {active})",
)
ok("the client left, and the proxy closed the upstream connection of its request")
