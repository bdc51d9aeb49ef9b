"""A reference reader of the PROXY protocol header, written from HAProxy's specification
(proxy-protocol.txt, versions 1 and 2), to judge proxy_protocol
(proxy/network/listener_filters/proxy_protocol.py) in the listener_filter harness.

    judge(data) -> Header | "malformed" | "absent" | "incomplete"

Version 1 (2.1): a single line, "PROXY" then a single space, the protocol ("TCP4", "TCP6" or
"UNKNOWN"), then for TCP4/TCP6 the source address, destination address, source port and
destination port, each after a single space, and CRLF. "The maximum line lengths the receiver
must support including the CRLF are ... 107 bytes" for the worst case. With "UNKNOWN" the receiver
must ignore whatever follows up to the CRLF and use the real connection's addresses. Addresses
are in the family's textual form (dotted quad; RFC 4291 text for IPv6, no zone); ports are
decimal 0..65535.

Version 2 (2.2): the 12-byte signature \\x0D\\x0A\\x0D\\x0A\\x00\\x0D\\x0A\\x51\\x55\\x49\\x54\\x0A; a byte
whose high nibble is the version (2) and low nibble the command (0 LOCAL, 1 PROXY, anything else
rejected); a byte with the address family (high nibble: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX) and
transport (low nibble: 0 UNSPEC, 1 STREAM, 2 DGRAM), other values rejected; a 16-bit big-endian
length of what follows. LOCAL: the receiver uses the real endpoints and skips the block. PROXY:
INET carries 4+4 address bytes and 2+2 port bytes (12), INET6 16+16+2+2 (36), UNIX 108+108 (216);
bytes past the addresses are TLVs (type byte, 16-bit length, value), which must fill the block.
UNSPEC family or transport: the addresses are not usable, the real ones are kept.

Policy on top (the proxy's, as Envoy): AF_UNIX over PROXY is refused (unsupported), a header
shorter than its family's addresses is malformed, and bytes that start with neither signature
mean the header is absent.
"""

import ipaddress
from dataclasses import dataclass

SIGNATURE_V2 = bytes([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A])
V1_TAG = b"PROXY"
V1_LINE_MAX = 107


@dataclass(frozen=True)
class Header:
    length: int
    source: tuple | None
    destination: tuple | None
    tlvs: tuple


def _decimal_port(word: str):
    if word and len(word) <= 5 and all("0" <= ch <= "9" for ch in word):
        value = int(word)
        if value <= 65535:
            return value
    return None


def _v1(data: bytes):
    line_end = -1
    for i in range(min(len(data), V1_LINE_MAX) - 1):
        if data[i] == 0x0D and data[i + 1] == 0x0A:
            line_end = i
            break
    if line_end < 0:
        return "malformed" if len(data) >= V1_LINE_MAX else "incomplete"
    text = data[:line_end].decode("latin-1")
    words = text.split(" ")
    if words[0] != "PROXY" or len(words) < 2:
        return "malformed"
    if words[1] == "UNKNOWN":
        return Header(line_end + 2, None, None, ())
    if words[1] not in ("TCP4", "TCP6") or len(words) != 6:
        return "malformed"
    family = ipaddress.IPv4Address if words[1] == "TCP4" else ipaddress.IPv6Address
    addresses = []
    for word in words[2:4]:
        if "%" in word or not word.isascii():
            return "malformed"
        try:
            addresses.append(str(family(word)))
        except ValueError:
            return "malformed"
    ports = [_decimal_port(w) for w in words[4:6]]
    if None in ports:
        return "malformed"
    return Header(line_end + 2, (addresses[0], ports[0]), (addresses[1], ports[1]), ())


def _v2(data: bytes):
    if len(data) < 16:
        return "incomplete"
    version_command, family_transport = data[12], data[13]
    if version_command >> 4 != 2 or version_command & 0x0F not in (0, 1):
        return "malformed"
    family, transport = family_transport >> 4, family_transport & 0x0F
    if family not in (0, 1, 2, 3) or transport not in (0, 1, 2):
        return "malformed"
    size = (data[14] << 8) | data[15]
    if len(data) < 16 + size:
        return "incomplete"
    block = data[16 : 16 + size]
    local = version_command & 0x0F == 0
    if local or family == 0 or transport == 0:
        return Header(16 + size, None, None, ())
    if family == 3:
        return "malformed"
    address_bytes = 4 if family == 1 else 16
    need = 2 * address_bytes + 4
    if size < need:
        return "malformed"
    family_cls = ipaddress.IPv4Address if family == 1 else ipaddress.IPv6Address
    source_ip = str(family_cls(block[0:address_bytes]))
    destination_ip = str(family_cls(block[address_bytes : 2 * address_bytes]))
    source_port = (block[2 * address_bytes] << 8) | block[2 * address_bytes + 1]
    destination_port = (block[2 * address_bytes + 2] << 8) | block[2 * address_bytes + 3]
    tlvs, rest = [], block[need:]
    while rest:
        if len(rest) < 3:
            return "malformed"
        value_size = (rest[1] << 8) | rest[2]
        if len(rest) < 3 + value_size:
            return "malformed"
        tlvs.append((rest[0], bytes(rest[3 : 3 + value_size])))
        rest = rest[3 + value_size :]
    return Header(16 + size, (source_ip, source_port), (destination_ip, destination_port), tuple(tlvs))


def judge(data: bytes):
    """What a PROXY header at the start of `data` says (see the module docstring)."""
    v1_start = V1_TAG + b" "
    if data[: len(v1_start)] == v1_start:
        return _v1(data)
    if data[:12] == SIGNATURE_V2:
        return _v2(data)
    if v1_start[: len(data)] == data or SIGNATURE_V2[: len(data)] == data:
        return "incomplete"
    return "absent"
