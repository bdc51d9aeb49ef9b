"""A reference reader of the first TLS flight, written from the RFCs' structure definitions, to judge
tls_inspector (proxy/network/listener_filters/tls_inspector.py) in the listener_filter harness.

    judge(data) -> Hello(server_name, alpn) | "not_tls" | "too_large" | "incomplete"

What the RFCs say, as read here:
  * RFC 8446 5.1, record layer: TLSPlaintext = ContentType type (22 = handshake); ProtocolVersion
    legacy_record_version (the major byte is 3 in every TLS version); uint16 length, at most 2^14;
    "Implementations MUST NOT send zero-length fragments of Handshake types"; a handshake message
    may be split over several records.
  * RFC 8446 4: Handshake = HandshakeType msg_type (client_hello = 1); uint24 length; body.
  * RFC 8446 4.1.2, ClientHello: ProtocolVersion legacy_version; Random random[32];
    opaque legacy_session_id<0..32>; CipherSuite cipher_suites<2..2^16-2> (CipherSuite is two
    bytes); opaque legacy_compression_methods<1..2^8-1>; Extension extensions<8..2^16-1>.
    TLS 1.2 (RFC 5246 7.4.1.2) lets the extensions be absent, and their block be <0..2^16-1>:
    clients of both versions are TLS, so this reader takes that wider form.
  * RFC 8446 3.4: a vector <floor..ceiling> is prefixed by its length in as many bytes as the
    ceiling needs; the length counts bytes, and must be a multiple of the element size.
  * RFC 8446 4.2: Extension = ExtensionType extension_type (uint16); opaque extension_data<0..2^16-1>;
    "There MUST NOT be more than one extension of the same type in a given extension block."
  * RFC 6066 3: server_name (type 0): ServerNameList = ServerName server_name_list<1..2^16-1>;
    ServerName = NameType name_type; HostName for host_name (0); HostName = opaque <1..2^16-1>,
    ASCII; only host_name is defined, so nothing else can be read; "The ServerNameList MUST NOT
    contain more than one name of the same name_type."
  * RFC 7301 3.1: application_layer_protocol_negotiation (type 16): ProtocolNameList =
    ProtocolName protocol_name_list<2..2^16-1>; ProtocolName = opaque <1..2^8-1>.

Policy on top of the RFCs (the proxy's, stated in tls_inspector's docstring): the ClientHello
must end within the first 64 KiB of the stream, else it is too large (also as soon as its own
length says it cannot); a host name is visible ASCII (0x21-0x7E); anything that is not a
well-formed ClientHello is "not TLS".
"""

from dataclasses import dataclass

LIMIT = 65536


@dataclass(frozen=True)
class Hello:
    server_name: str
    alpn: tuple


class _Bad(Exception):
    """Not a well-formed ClientHello."""


class _Short(Exception):
    """The bytes end before the ClientHello does."""


class Reader:
    """RFC 8446 presentation language over a byte string that must be read to its end."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise _Bad
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def number(self, width: int) -> int:
        return int.from_bytes(self.take(width), "big")

    def vector(self, floor: int, ceiling: int, element: int = 1) -> "Reader":
        width = (ceiling.bit_length() + 7) // 8
        n = self.number(width)
        if n < floor or n > ceiling or n % element:
            raise _Bad
        return Reader(self.take(n))

    def done(self) -> bool:
        return self.at == len(self.data)

    def end(self) -> None:
        if not self.done():
            raise _Bad


def _handshake_stream(data: bytes):
    """Yield the handshake stream after each record (or partial record) in order."""
    stream = b""
    at = 0
    while True:
        yield stream
        if at >= len(data):
            raise _Short
        header = data[at : at + 5]
        if header[0] != 22:
            raise _Bad
        if len(header) >= 2 and header[1] != 3:
            raise _Bad
        if len(header) < 5:
            raise _Short
        size = int.from_bytes(header[3:5], "big")
        if size == 0 or size > 1 << 14:
            raise _Bad
        stream += data[at + 5 : at + 5 + size]
        at += 5 + size


def _server_name(ext: Reader) -> str:
    names = ext.vector(1, 0xFFFF)
    ext.end()
    seen_types = set()
    host = None
    while not names.done():
        kind = names.number(1)
        if kind != 0:
            raise _Bad  # an unknown NameType has no defined layout
        if kind in seen_types:
            raise _Bad
        seen_types.add(kind)
        host = names.vector(1, 0xFFFF).data
    assert host is not None  # the list is at least 1 byte long: one name was read or _Bad raised
    if any(c < 0x21 or c > 0x7E for c in host):
        raise _Bad
    return host.decode("ascii")


def _alpn(ext: Reader) -> tuple:
    names = ext.vector(2, 0xFFFF)
    ext.end()
    out = []
    while not names.done():
        out.append(names.vector(1, 0xFF).data.decode("latin-1"))
    return tuple(out)


def _client_hello(body: bytes) -> Hello:
    r = Reader(body)
    r.take(2)  # legacy_version
    r.take(32)  # random
    r.vector(0, 32)  # legacy_session_id
    r.vector(2, 0xFFFE, element=2)  # cipher_suites
    r.vector(1, 0xFF)  # legacy_compression_methods
    server_name, alpn = "", ()
    if not r.done():
        extensions = r.vector(0, 0xFFFF)
        r.end()
        types = []
        while not extensions.done():
            kind = extensions.number(2)
            data = extensions.vector(0, 0xFFFF)
            if kind in types:
                raise _Bad
            types.append(kind)
            if kind == 0:
                server_name = _server_name(data)
            elif kind == 16:
                alpn = _alpn(data)
    return Hello(server_name, alpn)


def judge(data: bytes):
    """What the first bytes of a connection are (see the module docstring)."""
    window = data[:LIMIT]
    try:
        for stream in _handshake_stream(window):
            if not stream:
                continue
            if stream[0] != 1:
                return "not_tls"
            if len(stream) < 4:
                continue
            length = int.from_bytes(stream[1:4], "big")
            if 5 + 4 + length > LIMIT:
                return "too_large"
            if len(stream) >= 4 + length:
                return _client_hello(stream[4 : 4 + length])
    except _Bad:
        return "not_tls"
    except _Short:
        pass
    return "too_large" if len(data) >= LIMIT else "incomplete"
