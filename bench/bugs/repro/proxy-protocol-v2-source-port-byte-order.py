"""PROXY protocol v2: the source port is in network byte order (HAProxy's spec 2.2), so a header naming
source port 443 selects the filter chain matching source_ports [443]."""

import ipaddress

from _live import Proxy, Upstream, check, connect, echo, ok, routed_by_chain, wait_for

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
LISTENER = {"name": "pp", "listener_filters": [{"proxy_protocol": {}}]}
CHAINS = [("https", {"source_ports": [443]}), ("other", {})]


def v2_header(src: str, dst: str, sport: int, dport: int) -> bytes:
    block = ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
    block += sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
    return V2_SIGNATURE + bytes([0x21, 0x11]) + len(block).to_bytes(2, "big") + block


with (
    Upstream(echo) as https,
    Upstream(echo) as other,
    Proxy(routed_by_chain(LISTENER, CHAINS, {"https": https.port, "other": other.port})) as proxy,
):
    with connect(proxy.port("pp")) as sock:
        sock.sendall(v2_header("198.51.100.7", "192.0.2.1", 443, 8443) + b"hello")
        wait_for(lambda: any(https.connections) or any(other.connections))
    chosen = "https" if any(https.connections) else "other" if any(other.connections) else "none"
check(
    chosen == "https", f"a PROXY v2 header naming source port 443 went to the {chosen!r} chain, not source_ports [443]"
)
ok("the v2 header's source port 443 selected the source_ports [443] chain")
