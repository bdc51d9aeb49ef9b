"""PROXY protocol v2 with TLVs (HAProxy's spec 2.2; load balancers send PP2_TYPE_AUTHORITY and their own
TLVs): the TLVs fill the rest of the header exactly, and such a header is accepted."""

import ipaddress

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until, tcp_config

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
PP2_TYPE_AUTHORITY = 0x02


def v2_header(src: str, dst: str, sport: int, dport: int, tlvs) -> bytes:
    block = ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
    block += sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
    for kind, value in tlvs:
        block += bytes([kind]) + len(value).to_bytes(2, "big") + value
    return V2_SIGNATURE + bytes([0x21, 0x11]) + len(block).to_bytes(2, "big") + block


LISTENER = {"listener_filters": [{"proxy_protocol": {"tlv_types": [PP2_TYPE_AUTHORITY]}}]}
with Upstream(echo) as up, Proxy(tcp_config(up.port, listener=LISTENER)) as proxy:
    with connect(proxy.port("tcp")) as sock:
        sock.sendall(v2_header("198.51.100.7", "192.0.2.1", 40000, 443, [(PP2_TYPE_AUTHORITY, b"example.com")]))
        sock.sendall(b"hello")
        echoed = recv_until(sock, 5, timeout=3.0)
check(echoed == b"hello", f"a PROXY v2 header with one TLV: the connection echoed {echoed!r}, not b'hello'")
ok("a PROXY v2 header whose TLV fills the header exactly was accepted")
