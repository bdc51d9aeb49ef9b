"""Filter chain matching (Envoy's FilterChainMatch order): chains whose destination prefix_ranges
match equally well all go on to the later criteria. Two chains on the same destination range, one
for loopback sources and one for external ones: a client on 127.0.0.1 reaches the loopback chain."""

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until, routed_by_chain

LISTENER = {"name": "vip"}
CHAINS = [
    ("local", {"prefix_ranges": ["127.0.0.0/8"], "source_type": "SAME_IP_OR_LOOPBACK"}),
    ("external", {"prefix_ranges": ["127.0.0.0/8"], "source_type": "EXTERNAL"}),
]

with (
    Upstream(echo) as local,
    Upstream(echo) as external,
    Proxy(routed_by_chain(LISTENER, CHAINS, {"local": local.port, "external": external.port})) as proxy,
):
    with connect(proxy.port("vip")) as sock:
        sock.sendall(b"ping")
        echoed = recv_until(sock, 4, timeout=2.0)
    chosen = "local" if local.connections else "external" if external.connections else "none"
check(
    chosen == "local" and echoed == b"ping",
    f"a loopback client of 127.0.0.0/8 went to the {chosen!r} chain (echo {echoed!r}), not the SAME_IP_OR_LOOPBACK one",
)
ok("of two chains on the same destination range, the loopback client reached the SAME_IP_OR_LOOPBACK one")
