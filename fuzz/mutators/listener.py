"""listener_filter inputs (fuzz/targets/listener_filter.py), mutated at the level of what a TLS client
asks for: the ClientHello's server name and ALPN names, in the harness's field mode (mode bit 6:
the harness writes the lengths and records around the fuzzer's bytes).

The readers judge names character by character (RFC 6066 3: a host name of visible ASCII; RFC 7301
3.1: non-empty protocol names), so the operations put characters at the edges of those classes and
real names' shapes where a byte mutation rarely lands one: a name byte replaced by an edge
character, a fresh name from real shapes (upper case, trailing dot, wildcard, IDN, at the length
limits), an ALPN name replaced or added. Inputs in raw mode are turned into field mode (keeping
the head: filters, read size, cuts). The byte mutator keeps its share for everything else.

A raw input gets a well-formed PROXY header put in front of what it sends (v1 TCP4, TCP6 or UNKNOWN,
v2 PROXY or LOCAL over INET or INET6, a TLV sometimes), and then its old bytes or nothing: the shape
a load balancer's connection has, and its health check's (a header, then the end of stream), which
byte mutations of an empty corpus almost never spell out whole.

A raw input whose filters look for HTTP (http_inspector) gets the start of a request put first in
the same way: a request line with its CRLF (GET, POST with a body, HEAD over HTTP/1.0, OPTIONS *, an
h2c upgrade) or the HTTP/2 preface, which the byte mutator assembles from the dictionary's tokens
only rarely; the harness's read sizes then split it anywhere (between CR and LF too).

A PROXY v2 header in a raw input (HAProxy's spec 2.2) gets its version/command and
family/transport bytes set to each value the spec names (LOCAL, PROXY, unknown commands; UNSPEC,
INET, INET6, UNIX over each transport), with the address block grown to the family's size: what
the reader must do differs per pair (LOCAL discards any block, UNSPEC keeps the real endpoints, UNIX
is refused), and a byte mutation rarely changes a nibble while keeping the length consistent.
"""

import random

from fuzz.mutators.base import Mutator, apply_ops

FIELDS_MODE = 0x40
# The edges of the classes the readers check: control bytes, space, the first and last visible ASCII
# characters, DEL, bytes above ASCII; and the characters host names carry (dot, hyphen, underscore,
# asterisk, digits, both cases).
EDGE_CHARS = b"\x00\x09\x1f\x20\x21\x7e\x7f\x80\xff.-_*~!/:0Z9aA"
NAMES = (
    b"example.com",
    b"EXAMPLE.COM",
    b"Www.Example.Com",
    b"example.com.",
    b"*.example.com",
    b"a~b.test",
    b"xn--bcher-kva.example",
    b"localhost",
    b"127.0.0.1",
    b"a" * 63 + b".test",
    b"a." * 126 + b"a",  # 253 bytes, the DNS limit
    b"a" * 255,
)
ALPNS = (b"h2", b"http/1.1", b"h2c", b"http/1.0", b"H2", b"h3", b"\x00", b"x" * 255)


class Fields:
    """The head (filter set, mode, cuts) and the fields synthesized_client_hello reads."""

    def __init__(self, data: bytes) -> None:
        cuts = data[2] % 16 if len(data) > 2 else 0
        head_len = 3 + 2 * cuts
        self.head = bytearray(data[:head_len].ljust(head_len, b"\0"))
        rest = data[head_len:]
        fields_mode = len(data) > 1 and data[1] & FIELDS_MODE
        self.flags = rest[0] if fields_mode and rest else 0
        self.name, self.alpn, self.tail = b"", [], b""
        if fields_mode:
            pos = 1
            n = rest[pos] if pos < len(rest) else 0
            self.name, pos = rest[pos + 1 : pos + 1 + n], pos + 1 + n
            count = rest[pos] % 8 if pos < len(rest) else 0
            pos += 1
            for _ in range(count):
                n = rest[pos] if pos < len(rest) else 0
                self.alpn.append(rest[pos + 1 : pos + 1 + n])
                pos += 1 + n
            self.tail = rest[pos:]
        self.head[1] |= FIELDS_MODE

    def encode(self) -> bytes:
        out = bytes(self.head) + bytes([self.flags, len(self.name)]) + self.name + bytes([len(self.alpn)])
        return out + b"".join(bytes([len(a)]) + a for a in self.alpn) + self.tail


def _edge_char(f: Fields, rng: random.Random) -> bool:
    if not f.name:
        return False
    i = rng.randrange(len(f.name))
    f.name = f.name[:i] + bytes([rng.choice(EDGE_CHARS)]) + f.name[i + 1 :]
    return True


def _insert_char(f: Fields, rng: random.Random) -> bool:
    if len(f.name) >= 255:
        return False
    i = rng.randrange(len(f.name) + 1)
    f.name = f.name[:i] + bytes([rng.choice(EDGE_CHARS)]) + f.name[i:]
    return True


def _new_name(f: Fields, rng: random.Random) -> bool:
    f.name = rng.choice(NAMES)
    return True


def _alpn(f: Fields, rng: random.Random) -> bool:
    name = rng.choice(ALPNS)
    if f.alpn and rng.random() < 0.5:
        f.alpn[rng.randrange(len(f.alpn))] = name
    elif len(f.alpn) < 7:
        f.alpn.insert(rng.randrange(len(f.alpn) + 1), name)
    else:
        return False
    return True


def _alpn_edge_char(f: Fields, rng: random.Random) -> bool:
    named = [i for i, a in enumerate(f.alpn) if a]
    if not named:
        return False
    i = rng.choice(named)
    j = rng.randrange(len(f.alpn[i]))
    f.alpn[i] = f.alpn[i][:j] + bytes([rng.choice(EDGE_CHARS)]) + f.alpn[i][j + 1 :]
    return True


def _records(f: Fields, rng: random.Random) -> bool:
    """Another record size (flags bits 1-7: 0 is one record) or a PROXY header first (bit 0)."""
    f.flags = (rng.choice((0, 1, 5, 16, 64, 127)) << 1) | (f.flags & 1) if rng.random() < 0.7 else f.flags ^ 1
    return True


PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
VERSION_COMMANDS = (0x20, 0x21, 0x20, 0x21, 0x22, 0x2F, 0x11, 0x31)  # LOCAL and PROXY twice as often
FAMILIES = (0x00, 0x01, 0x02, 0x10, 0x11, 0x12, 0x20, 0x21, 0x22, 0x31, 0x41, 0x13)
ADDRESS_SIZES = {1: 12, 2: 36, 3: 216}  # INET, INET6, UNIX address blocks


def proxy_v2_fields(data: bytes, rng: random.Random) -> bytes | None:
    """The first PROXY v2 header in `data` with its command or its family/transport set anew (see the
    module docstring); None when there is none."""
    at = data.find(PROXY_V2_SIGNATURE)
    if at < 0 or len(data) < at + 16:
        return None
    out = bytearray(data)
    if rng.random() < 0.5:
        out[at + 12] = rng.choice(VERSION_COMMANDS)
        return bytes(out)
    family = out[at + 13] = rng.choice(FAMILIES)
    length = int.from_bytes(out[at + 14 : at + 16], "big")
    need = ADDRESS_SIZES.get(family >> 4, 0)
    if length < need:  # room for the family's addresses, as a sender of that family writes them
        out[at + 16 + length : at + 16 + length] = bytes(rng.randrange(256) for _ in range(need - length))
        out[at + 14 : at + 16] = need.to_bytes(2, "big")
    return bytes(out)


_V4_BLOCK = bytes([192, 0, 2, 1, 127, 0, 0, 1]) + (5000).to_bytes(2, "big") + (10000).to_bytes(2, "big")
_V6_BLOCK = bytes(15) + b"\x01" + bytes(15) + b"\x01" + (5000).to_bytes(2, "big") + (10000).to_bytes(2, "big")
_TLV = b"\x02\x00\x05a.com"  # PP2_TYPE_AUTHORITY


def _v2(command: int, family: int, block: bytes) -> bytes:
    return PROXY_V2_SIGNATURE + bytes([0x20 | command, family]) + len(block).to_bytes(2, "big") + block


PROXY_HEADERS = (
    b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 10000\r\n",
    b"PROXY TCP6 2001:db8::1 ::1 5000 10000\r\n",
    b"PROXY UNKNOWN\r\n",
    _v2(1, 0x11, _V4_BLOCK),
    _v2(1, 0x11, _V4_BLOCK + _TLV),
    _v2(1, 0x21, _V6_BLOCK),
    _v2(0, 0x00, b""),
)


def _head_length(data: bytes) -> int:
    """Bytes before what the client sends: filters, mode, the cut count and its cut points."""
    return 3 + 2 * (data[2] % 16 if len(data) > 2 else 0)


def proxy_header_first(data: bytes, rng: random.Random) -> bytes:
    """A raw input's payload behind a PROXY header, or the header alone (its end of stream next)."""
    at = _head_length(data)
    head, rest = data[:at].ljust(at, b"\0"), data[at:]
    return head + rng.choice(PROXY_HEADERS) + (rest if rng.random() < 0.5 else b"")


def _reads_proxy_header(data: bytes) -> bool:
    """The input's filters read a PROXY header (byte 0), and it has none yet."""
    from fuzz.targets.listener_filter import FILTER_SETS

    filters = FILTER_SETS[((data[0] if data else 0) & 0x7F) % len(FILTER_SETS)]
    return "proxy_protocol" in filters and PROXY_V2_SIGNATURE not in data and b"PROXY " not in data


# What an HTTP client's connection starts with (RFC 9112 3: a request line; RFC 9113 3.4: the
# prior-knowledge preface), each ended by CRLF as clients send them.
REQUEST_STARTS = (
    b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
    b"POST /upload HTTP/1.1\r\nContent-Length: 2\r\n\r\nab",
    b"HEAD /index.html HTTP/1.0\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\n",
    b"GET /a?b=c HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
)


def request_first(data: bytes, rng: random.Random) -> bytes:
    """A raw input's payload behind the start of an HTTP request, or that start alone."""
    at = _head_length(data)
    head, rest = data[:at].ljust(at, b"\0"), data[at:]
    return head + rng.choice(REQUEST_STARTS) + (rest if rng.random() < 0.5 else b"")


def _reads_request(data: bytes) -> bool:
    """The input's filters look for an HTTP request (byte 0), and its bytes hold no request line."""
    from fuzz.targets.listener_filter import FILTER_SETS

    filters = FILTER_SETS[((data[0] if data else 0) & 0x7F) % len(FILTER_SETS)]
    return "http_inspector" in filters and b" HTTP/" not in data


RAW_REQUEST = 0.15  # share of raw inputs' structured calls that put an HTTP request first
RAW_PROXY_HEADER = 0.15  # share of raw inputs' structured calls that put a PROXY header first
RAW_TO_FIELDS = 0.2  # share of raw inputs' structured calls that start a ClientHello in field mode
RAW_PROXY_V2 = 0.5  # share of raw inputs with a PROXY v2 header whose structured call rewrites it
OPS = {
    "sni_edge_char": (4, _edge_char),
    "sni_insert_char": (2, _insert_char),
    "sni_name": (2, _new_name),
    "alpn_name": (2, _alpn),
    "alpn_edge_char": (1, _alpn_edge_char),
    "records": (1, _records),
}


class ClientHelloFields(Mutator):
    name = "listener"

    def structured(self, data: bytes, max_size: int, rng: random.Random):
        raw = not (len(data) > 1 and data[1] & FIELDS_MODE)
        if raw and PROXY_V2_SIGNATURE in data and rng.random() < RAW_PROXY_V2:
            out = proxy_v2_fields(data, rng)
            return (["proxy.v2_fields"], out[:max_size]) if out else None
        if raw and _reads_proxy_header(data) and rng.random() < RAW_PROXY_HEADER:
            return ["proxy.header_first"], proxy_header_first(data, rng)[:max_size]
        if raw and _reads_request(data) and rng.random() < RAW_REQUEST:
            return ["http.request_first"], request_first(data, rng)[:max_size]
        if raw and rng.random() >= RAW_TO_FIELDS:
            return None  # a PROXY v1 header, a request line, a real ClientHello: the byte mutator's
        f = Fields(data)
        kinds = apply_ops(OPS, f, rng, "hello")
        if raw:
            kinds = ["hello.from_raw"] + kinds
        return (kinds, f.encode()) if kinds else None


def listener_filter(byte_mutate=None) -> ClientHelloFields:
    return ClientHelloFields(byte_mutate)
