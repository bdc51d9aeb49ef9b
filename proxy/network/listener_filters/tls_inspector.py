"""tls_inspector: is the connection TLS, and which server name and ALPN protocols does it ask for?

It reads the TLS records at the start of the connection (any fragmentation: a ClientHello split
over many records, RFC 8446 5.1) until the first handshake message, a ClientHello (4.1.2), is
complete, and takes the server_name (RFC 6066 3) and application_layer_protocol_negotiation
(RFC 7301 3.1) extensions from it. Nothing is consumed: the TLS transport socket of the chain
later reads the same bytes.

  TLS        the ClientHello is well formed: transport_protocol "tls", server_name (the
             host_name, "" without the extension), application_protocols (ALPN, client order)
  not TLS    anything else (first record not a handshake, a malformed record or ClientHello):
             nothing is set and chain matching sees "raw_buffer", as Envoy's tls_not_found
  too large  the ClientHello cannot be complete within the first 64 KiB: the connection is
             closed (`client_hello_too_large`)

Well formed means: every record is a handshake record (type 22) of major version 3 and 1 to 2^14
bytes; the first handshake message is a ClientHello; its vectors are inside their bounds and
fill it exactly (extensions optional, as TLS 1.2 allows); no extension type twice; server_name
holds exactly one host_name of 1 or more visible ASCII characters; ALPN holds one or more
protocol names of 1 to 255 bytes.

Stats `listener.<name>.tls_inspector.`: tls_found, tls_not_found, sni_found, sni_not_found, alpn_found,
alpn_not_found, client_hello_too_large (as Envoy's).
"""

from dataclasses import dataclass

from ..filter import CONTINUE, STOP_ITERATION
from ..listener_filter import ListenerFilter, register_listener_filter

MAX_CLIENT_HELLO = 64 * 1024  # bytes of the stream the ClientHello must fit in (Envoy's limit)
HANDSHAKE, CLIENT_HELLO = 22, 1
MAX_RECORD = 1 << 14
EXT_SERVER_NAME, EXT_ALPN, HOST_NAME = 0, 16, 0

NEED_MORE, NOT_TLS, TOO_LARGE = "need_more", "not_tls", "too_large"


@dataclass(frozen=True)
class ClientHello:
    server_name: str
    alpn: tuple


class _Malformed(Exception):
    pass


def _vector(body: bytes, pos: int, size_len: int, lo: int, hi: int):
    """(content, next position) of a vector whose length takes size_len bytes, within [lo, hi]."""
    if pos + size_len > len(body):
        raise _Malformed
    n = int.from_bytes(body[pos : pos + size_len], "big")
    end = pos + size_len + n
    if not lo <= n <= hi or end > len(body):
        raise _Malformed
    return body[pos + size_len : end], end


def _server_name(ext: bytes) -> str:
    names, end = _vector(ext, 0, 2, 1, 0xFFFF)
    if end != len(ext) or names[0] != HOST_NAME:
        raise _Malformed  # only host_name is defined, and a list holds one name per type
    name, end = _vector(names, 1, 2, 1, 0xFFFF)
    if end != len(names) or any(not 0x21 <= b <= 0x7E for b in name):
        raise _Malformed
    return name.decode("ascii")


def _alpn(ext: bytes) -> tuple:
    names, end = _vector(ext, 0, 2, 2, 0xFFFF)
    if end != len(ext):
        raise _Malformed
    out, pos = [], 0
    while pos < len(names):
        name, pos = _vector(names, pos, 1, 1, 0xFF)
        out.append(name.decode("latin-1"))
    return tuple(out)


def _client_hello(body: bytes) -> ClientHello:
    pos = 2 + 32  # legacy_version, random
    if pos > len(body):
        raise _Malformed
    _, pos = _vector(body, pos, 1, 0, 32)  # legacy_session_id
    suites, pos = _vector(body, pos, 2, 2, 0xFFFE)  # cipher_suites
    if len(suites) % 2:
        raise _Malformed
    _, pos = _vector(body, pos, 1, 1, 0xFF)  # legacy_compression_methods
    server_name, alpn = "", ()
    if pos == len(body):
        return ClientHello(server_name, alpn)  # no extensions (TLS 1.2)
    extensions, pos = _vector(body, pos, 2, 0, 0xFFFF)
    if pos != len(body):
        raise _Malformed
    seen, at = set(), 0
    while at < len(extensions):
        if at + 2 > len(extensions):
            raise _Malformed
        kind = int.from_bytes(extensions[at : at + 2], "big")
        data, at = _vector(extensions, at + 2, 2, 0, 0xFFFF)
        if kind in seen:
            raise _Malformed
        seen.add(kind)
        if kind == EXT_SERVER_NAME:
            server_name = _server_name(data)
        elif kind == EXT_ALPN:
            alpn = _alpn(data)
    return ClientHello(server_name, alpn)


def _decided(stream: bytearray):
    """What the handshake bytes so far decide: a ClientHello, NOT_TLS, TOO_LARGE, or None."""
    if not stream:
        return None
    if stream[0] != CLIENT_HELLO:
        return NOT_TLS
    if len(stream) < 4:
        return None
    length = int.from_bytes(stream[1:4], "big")
    if 5 + 4 + length > MAX_CLIENT_HELLO:
        return TOO_LARGE  # one record header, the message header and the body cannot fit
    if len(stream) < 4 + length:
        return None
    return _client_hello(bytes(stream[4 : 4 + length]))


def inspect(data: bytes):
    """NEED_MORE, NOT_TLS, TOO_LARGE or a ClientHello, from the first bytes of a connection.
    Records are read only up to the end of the ClientHello (0-RTT data may follow it). The same
    answer for every longer input once it is not NEED_MORE."""
    return _Records().inspect(data)


class _Records:
    """The handshake stream read out of a connection's first records, kept between reads: each
    read walks only the records it completes. Re-reading every record on every read made a
    ClientHello trickled a byte at a time in one-byte records quadratic (about 4 s of CPU for
    3 KB at one byte a read, found by fuzz run listener_filter; up to 64 KiB may arrive so)."""

    __slots__ = ("pos", "stream")

    def __init__(self) -> None:
        self.pos = 0  # where the first record not yet in `stream` starts
        self.stream = bytearray()  # the handshake bytes of the complete records before `pos`

    def inspect(self, data: bytes):
        """As `inspect`, for `data` that extends the data of the previous call."""
        end = min(len(data), MAX_CLIENT_HELLO)
        try:
            while True:
                found = _decided(self.stream)
                if found is not None:
                    return found
                pos = self.pos
                header = data[pos : min(pos + 5, end)]
                if header[:1] and header[0] != HANDSHAKE or len(header) > 1 and header[1] != 3:
                    return NOT_TLS
                if len(header) < 5:
                    break
                length = int.from_bytes(header[3:5], "big")
                if not 1 <= length <= MAX_RECORD:
                    return NOT_TLS  # RFC 8446 5.1: no empty handshake fragments, none over 2^14
                if pos + 5 + length > end:  # a record still arriving may complete the ClientHello
                    found = self._decided_with(data, pos + 5, end)
                    if found is not None:
                        return found
                    break
                self.stream += data[pos + 5 : pos + 5 + length]
                self.pos = pos + 5 + length
        except _Malformed:
            return NOT_TLS
        return TOO_LARGE if len(data) >= MAX_CLIENT_HELLO else NEED_MORE

    def _decided_with(self, data: bytes, start: int, end: int):
        """_decided of the stream and the bytes data[start:end] of a record still arriving, copied
        only once they can hold the whole ClientHello: until then its first 4 bytes decide alone."""
        head = bytes(self.stream[:4]) + data[start : start + max(0, 4 - len(self.stream))]
        if len(head) < 4 or head[0] != CLIENT_HELLO or 9 + int.from_bytes(head[1:4], "big") > MAX_CLIENT_HELLO:
            return _decided(bytearray(head))
        if len(self.stream) + end - start < 4 + int.from_bytes(head[1:4], "big"):
            return None
        return _decided(self.stream + data[start:end])


class TlsInspector(ListenerFilter):
    max_read_bytes = MAX_CLIENT_HELLO

    def _records_inspect(self, data: bytes):
        """inspect(data), going on from the records the last read completed (each read's data
        extends the last: the listener filter contract)."""
        records = getattr(self, "_records", None)
        if records is None or records.pos > len(data):
            records = self._records = _Records()
        return records.inspect(data)

    def on_data(self, data: bytes):
        found = self._records_inspect(data)
        if found is NEED_MORE:
            return STOP_ITERATION
        cb = self.cb
        if found is TOO_LARGE:
            cb.reject("tls_inspector.client_hello_too_large")
            return STOP_ITERATION
        if found is NOT_TLS:
            cb.inc("tls_inspector.tls_not_found")
            return CONTINUE
        conn = cb.connection
        cb.inc("tls_inspector.tls_found")
        conn.transport_protocol = "tls"
        cb.inc("tls_inspector.sni_found" if found.server_name else "tls_inspector.sni_not_found")
        if found.server_name:
            conn.server_name = found.server_name
        cb.inc("tls_inspector.alpn_found" if found.alpn else "tls_inspector.alpn_not_found")
        if found.alpn:
            conn.application_protocols = found.alpn
        return CONTINUE


@register_listener_filter("tls_inspector")
def tls_inspector_factory(msg, build):
    return lambda ctx: TlsInspector()
