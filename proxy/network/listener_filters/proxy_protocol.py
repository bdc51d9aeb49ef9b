"""proxy_protocol: the PROXY protocol header (HAProxy's spec, versions 1 and 2) in front of a
connection names its real source and destination; RBAC, rate limiting, chain matching and the
access log then see those (`remote_address`, `local_address`), while `direct_remote_address`
stays the TCP peer. The header is drained: the filter chain never sees it.

Version 1 (spec 2.1): "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport CRLF, or
"PROXY UNKNOWN" ... CRLF (the real endpoints are kept), at most 107 bytes with the CRLF; one space
between fields; addresses in the family's text form; ports decimal, 0 to 65535.

Version 2 (spec 2.2): the 12-byte signature, version 2 with command LOCAL (real endpoints kept,
block skipped) or PROXY, a family byte, a 16-bit length, then the address block and TLVs
(type, 16-bit length, value) filling the rest exactly. PROXY with AF_INET or AF_INET6 over STREAM
or DGRAM names the endpoints; with AF_UNSPEC or protocol UNSPEC the real endpoints are kept;
AF_UNIX is refused (Envoy: unsupported family). TLVs whose type the configuration lists are kept
in stream_info["proxy_protocol_tlvs"] as {type: value}.

A connection that does not start with a header is refused, unless
allow_requests_without_proxy_protocol: then it passes untouched. A malformed header is always
refused. Stat `listener.<name>.downstream_cx_proxy_proto_error`.
"""

import ipaddress
from dataclasses import dataclass

from ..filter import CONTINUE, STOP_ITERATION
from ..listener_filter import ListenerFilter, register_listener_filter

V1_PREFIX = b"PROXY "
V1_MAX = 107
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_HEADER = 16
V2_MAX = V2_HEADER + 0xFFFF
AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX = 0, 1, 2, 3
UNSPEC, STREAM, DGRAM = 0, 1, 2
_ADDRESS_LEN = {AF_INET: 12, AF_INET6: 36, AF_UNIX: 216}

NEED_MORE, NOT_PROXY, MALFORMED = "need_more", "not_proxy", "malformed"


@dataclass(frozen=True)
class ProxyHeader:
    version: int
    length: int  # bytes the header takes: drained
    source: tuple | None  # (ip, port), None: keep the real endpoints
    destination: tuple | None
    tlvs: tuple = ()  # ((type, value bytes), ...) in order


def _port(text: bytes):
    if not 1 <= len(text) <= 5 or not text.isdigit() or int(text) > 0xFFFF:
        return None
    return int(text)


def _v1(data: bytes):
    end = data.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        return MALFORMED if len(data) >= V1_MAX else NEED_MORE
    fields = data[len(V1_PREFIX) : end].split(b" ")
    if fields[0] == b"UNKNOWN":
        return ProxyHeader(1, end + 2, None, None)
    if len(fields) != 5 or fields[0] not in (b"TCP4", b"TCP6"):
        return MALFORMED
    cls = ipaddress.IPv4Address if fields[0] == b"TCP4" else ipaddress.IPv6Address
    if b"%" in fields[1] + fields[2]:
        return MALFORMED  # a zone index is no part of the spec's address forms
    try:
        src, dst = (str(cls(f.decode("ascii"))) for f in fields[1:3])
    except (ValueError, UnicodeDecodeError):
        return MALFORMED
    sport, dport = _port(fields[3]), _port(fields[4])
    if sport is None or dport is None:
        return MALFORMED
    return ProxyHeader(1, end + 2, (src, sport), (dst, dport))


def _tlvs(block: bytes):
    out, pos = [], 0
    while pos < len(block):
        if pos + 3 > len(block):
            return None
        n = int.from_bytes(block[pos + 1 : pos + 3], "big")
        if pos + 3 + n > len(block):
            return None
        out.append((block[pos], bytes(block[pos + 3 : pos + 3 + n])))
        pos += 3 + n
    return tuple(out)


def _v2(data: bytes):
    if len(data) < V2_HEADER:
        return NEED_MORE
    version, command = data[12] >> 4, data[12] & 0xF
    family, protocol = data[13] >> 4, data[13] & 0xF
    if version != 2 or command > 1 or family > AF_UNIX or protocol > DGRAM:
        return MALFORMED
    length = V2_HEADER + int.from_bytes(data[14:16], "big")
    if len(data) < length:
        return NEED_MORE
    block = data[V2_HEADER:length]
    if command == 0 or family == AF_UNSPEC or protocol == UNSPEC:
        return ProxyHeader(2, length, None, None)  # LOCAL, or nothing to say: real endpoints
    if family == AF_UNIX:
        return MALFORMED
    size = _ADDRESS_LEN[family]
    tlvs = _tlvs(block[size:]) if len(block) >= size else None
    if tlvs is None:
        return MALFORMED
    half = (size - 4) // 2
    cls = ipaddress.IPv4Address if family == AF_INET else ipaddress.IPv6Address
    src, dst = str(cls(block[:half])), str(cls(block[half : 2 * half]))
    sport = int.from_bytes(block[2 * half : 2 * half + 2], "big")
    dport = int.from_bytes(block[2 * half + 2 : size], "big")
    return ProxyHeader(2, length, (src, sport), (dst, dport), tlvs)


def parse(data: bytes):
    """NEED_MORE, NOT_PROXY, MALFORMED or a ProxyHeader, from the first bytes of a connection.
    The same answer for every longer input once it is not NEED_MORE."""
    for prefix, parser in ((V1_PREFIX, _v1), (V2_SIGNATURE, _v2)):
        if data.startswith(prefix):
            return parser(data)
        if prefix.startswith(data):
            return NEED_MORE
    return NOT_PROXY


class ProxyProtocolFilter(ListenerFilter):
    max_read_bytes = V2_MAX

    def __init__(self, allow_without: bool, keep_tlvs: frozenset) -> None:
        self.allow_without = allow_without
        self.keep_tlvs = keep_tlvs

    def on_data(self, data: bytes):
        found = parse(data)
        if found is NEED_MORE:
            return STOP_ITERATION
        if found is NOT_PROXY and self.allow_without:
            return CONTINUE
        if not isinstance(found, ProxyHeader):
            self.cb.reject("downstream_cx_proxy_proto_error")
            return STOP_ITERATION
        conn = self.cb.connection
        self.cb.drain(found.length)
        if found.source is not None:
            conn.remote_address, conn.local_address = found.source, found.destination
        kept: dict = {}
        for t, v in found.tlvs:
            if t in self.keep_tlvs:
                kept.setdefault(t, v)  # the first of a repeated type
        if kept:
            conn.stream_info["proxy_protocol_tlvs"] = kept
        return CONTINUE


@register_listener_filter("proxy_protocol")
def proxy_protocol_factory(msg, build):
    allow, keep = msg.allow_requests_without_proxy_protocol, frozenset(msg.tlv_types)
    return lambda ctx: ProxyProtocolFilter(allow, keep)
