"""Network RBAC in shadow mode enforces nothing (Envoy's shadow_rules: "only emits stats and logs"):
a connection the policy would deny is counted as shadow_denied and still proxied."""

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until, tcp_config

RBAC = {
    "rbac": {
        "action": "ALLOW",
        "shadow": True,
        "policies": [{"name": "office", "source_prefixes": ["10.0.0.0/8"]}],
    }
}
with Upstream(echo) as up, Proxy(tcp_config(up.port, filters=[RBAC], admin=True)) as proxy:
    with connect(proxy.port("tcp")) as sock:
        sock.sendall(b"ping")
        echoed = recv_until(sock, 4, timeout=2.0)
    stats = proxy.stats()
shadow, denied = stats.get("rbac.shadow_denied", 0), stats.get("rbac.denied", 0)
check(
    echoed == b"ping" and denied == 0,
    f"a shadow-mode RBAC that would deny 127.0.0.1 gave the client {echoed!r} (rbac.denied {denied}, "
    f"rbac.shadow_denied {shadow}): shadow mode enforced the denial",
)
check(shadow == 1, f"rbac.shadow_denied is {shadow}, 1 expected")
ok("shadow mode counted shadow_denied and proxied the connection")
