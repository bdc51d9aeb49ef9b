"""Listener stats: listener.<name>.downstream_cx_active counts the connections open now, so it returns
to 0 once the proxy itself has closed them (here: refused by network RBAC)."""

from _live import Proxy, check, connect, ok, recv_until, tcp_config, wait_for


with Proxy(tcp_config(9, admin=True, filters=[{"rbac": {"action": "ALLOW", "policies": []}}])) as proxy:
    for _ in range(3):
        with connect(proxy.port("tcp")) as sock:
            refused = recv_until(sock, 1, timeout=2) == b""
        check(refused, "the RBAC policy without policies did not close the connection")
    wait_for(lambda: proxy.stats().get("rbac.denied") == 3, timeout=2)
    stats = proxy.stats()
total = stats.get("listener.tcp.downstream_cx_total")
active = stats.get("listener.tcp.downstream_cx_active")
check(total == 3 and stats.get("rbac.denied") == 3, f"stats: total {total}, rbac.denied {stats.get('rbac.denied')}")
check(
    active == 0,
    f"listener.tcp.downstream_cx_active is {active} after the proxy closed all {total} "
    "connections it accepted (RBAC refused each)",
)
ok("downstream_cx_active went back to 0 after 3 refused connections")
