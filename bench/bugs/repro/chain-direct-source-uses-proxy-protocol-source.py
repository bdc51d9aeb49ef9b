"""Filter chain match behind a PROXY protocol balancer: `direct_source_prefix_ranges` matches the TCP
peer (the balancer), whatever source the PROXY header names (Envoy's FilterChainMatch: "the directly
connected source"), so a connection from 127.0.0.1 naming 198.51.100.7 selects the chain for
direct peers in 127.0.0.1/32."""

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until, routed_by_chain, wait_for

LISTENER = {"name": "edge", "listener_filters": [{"proxy_protocol": {}}]}
CHAINS = [("via_lb", {"direct_source_prefix_ranges": ["127.0.0.1/32"]}), ("other", {})]

with (
    Upstream(echo) as via_lb,
    Upstream(echo) as other,
    Proxy(routed_by_chain(LISTENER, CHAINS, {"via_lb": via_lb.port, "other": other.port})) as proxy,
):
    with connect(proxy.port("edge")) as sock:
        sock.sendall(b"PROXY TCP4 198.51.100.7 192.0.2.1 40000 443\r\nping")
        echoed = recv_until(sock, 4, timeout=3.0)
        wait_for(lambda: any(via_lb.connections) or any(other.connections), timeout=1.0)
    chosen = "via_lb" if any(via_lb.connections) else "other" if any(other.connections) else "none"
check(
    chosen == "via_lb",
    f"a connection from 127.0.0.1 whose PROXY header names 198.51.100.7 went to the {chosen!r} chain "
    f"(echoed {echoed!r}), not the one for direct peers in 127.0.0.1/32",
)
ok("the direct peer 127.0.0.1 selected the direct_source_prefix_ranges chain despite the PROXY header")
