"""PROXY protocol v2 with TLVs (HAProxy's spec 2.2: the header's length covers the address block and
the TLVs): the whole header is consumed, so the upstream reads exactly what the client sent after it."""

import ipaddress

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until, tcp_config, wait_for

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
PP2_TYPE_AUTHORITY, PP2_TYPE_NOOP = 0x02, 0x04


def v2_header(src: str, dst: str, sport: int, dport: int, tlvs) -> bytes:
    block = ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
    block += sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
    for kind, value in tlvs:
        block += bytes([kind]) + len(value).to_bytes(2, "big") + value
    return V2_SIGNATURE + bytes([0x21, 0x11]) + len(block).to_bytes(2, "big") + block


TLVS = [(PP2_TYPE_AUTHORITY, b"example.com"), (PP2_TYPE_NOOP, b"\x00\x00")]
LISTENER = {"listener_filters": [{"proxy_protocol": {"tlv_types": [PP2_TYPE_AUTHORITY]}}]}
with Upstream(echo) as up, Proxy(tcp_config(up.port, listener=LISTENER)) as proxy:
    with connect(proxy.port("tcp")) as sock:
        sock.sendall(v2_header("198.51.100.7", "192.0.2.1", 40000, 443, TLVS) + b"hello")
        echoed = recv_until(sock, 5, timeout=3.0)
        wait_for(lambda: up.connections and up.connections[0], timeout=1.0)
    upstream_read = b"".join(up.connections[0]) if up.connections else b""
check(
    upstream_read == b"hello",
    f"after a PROXY v2 header with two TLVs the upstream read {upstream_read!r} (echoed back: {echoed!r}), "
    "not the client's b'hello'",
)
ok("the whole PROXY v2 header, TLVs included, was consumed: the upstream read the client's bytes only")
