"""Listener filters on raw bytes, in fuzzer-chosen pieces (Envoy's listener-filter fuzzers).

Input layout:
    byte 0     the filters, in order (FILTER_SETS), and bit 7: proxy_protocol lets connections
               without a header through (allow_requests_without_proxy_protocol)
    byte 1     the read size of the split run (READ_SIZES); bit 7: the data is repeated to
               66 000 bytes (the 64 KiB limits); bit 6: the rest are ClientHello fields, not bytes
               (synthesized_client_hello: the fuzzer picks the server name and ALPN bytes, the
               harness writes the lengths and records around them, as Envoy's structured fuzzers)
    byte 2     how many cut points follow (0-15), then one 2-byte cut point each
    rest       what the client sends, then its end of stream

Each input runs twice through a real listener (the filters, then a default chain whose one filter
captures what reaches it): all bytes in one read, and in the chosen pieces and read size. Oracles:
  * no exception but the filters' own rejection (the connection closed, a stat counted);
  * the same outcome for every split: closed or passed, the stats, what the filters found, the
    bytes the upstream got;
  * no application byte consumed: the chain gets exactly the bytes after a PROXY header, and then
    the client's end of stream (also one that came with the header alone, while the filters ran);
  * a connection the references already refuse on the bytes sent so far (a malformed PROXY header,
    a ClientHello past 64 KiB) is closed before the next piece, not held for more bytes;
  * what the filters found agrees with independent readers of the same bytes: the ClientHello
    (client_hello_reference.py), the PROXY header (proxy_header_reference.py) and an RFC 9112
    request line, combined in listener_filter_reference.py;
  * the chain a server name it found selects among chains listing that name's own wildcards is the
    one Envoy's precedence picks (server_name_ladder.py);
  * chains naming the direct peer, the found source, destination or source port each get the
    connection exactly when Envoy's precedence gives it to them (found_facts_chains.py).
"""

from proxy.config import schema
from proxy.context import ServerContext
from proxy.event import SimulatedDispatcher
from proxy.network import sim
from proxy.network.chain_match import FilterChainMatch
from proxy.network.filter import CONTINUE, STOP_ITERATION, ReadFilter
from proxy.network.listener import BuiltFilterChain, BuiltListener
from proxy.network import listener_filters  # noqa: F401  (importing it registers the built-in listener filters)
from proxy.network.listener_filter import listener_filter_factory

from fuzz.oracles import InvariantViolation
from fuzz.session import Reader
from fuzz.targets import found_facts_chains, proxy_header_reference, server_name_ladder
from fuzz.targets.listener_filter_reference import H2_PREFACE, LOCAL, REMOTE, expected, refused_already

FILTER_SETS = (
    ("tls_inspector",),
    ("proxy_protocol",),
    ("http_inspector",),
    ("proxy_protocol", "tls_inspector"),
    ("proxy_protocol", "http_inspector"),
    ("tls_inspector", "http_inspector"),
)
READ_SIZES = (16 * 1024, 1, 7, 64, 512)
PADDED = 66_000
TLV_TYPES = (1, 2, 0x20, 0xE0)
_BUILT: dict = {}


class Capture(ReadFilter):
    """The chain's only filter: what reaches it is what the listener filters left for the chain, and
    the client's end of stream (half close on, as tcp_proxy has it: the end arrives as data's end)."""

    def __init__(self, log, ended) -> None:
        self.log, self.ended = log, ended

    def initialize_read_filter_callbacks(self, callbacks) -> None:
        super().initialize_read_filter_callbacks(callbacks)
        callbacks.connection.enable_half_close(True)

    def on_new_connection(self):
        self.log.append(b"")
        return CONTINUE

    def on_data(self, data, end_stream):
        self.log[-1] += data.take()
        if end_stream:
            self.ended.append(True)
        return STOP_ITERATION


def _built(filters, allow_without: bool):
    """A listener with `filters` (configured as a user would) and a default chain that captures."""
    key = (filters, allow_without)
    if key not in _BUILT:
        makers = []
        for name in filters:
            config = getattr(schema.ListenerFilter(), name)
            if name == "proxy_protocol":
                config.allow_requests_without_proxy_protocol = allow_without
                config.tlv_types.extend(TLV_TYPES)
            makers.append(listener_filter_factory(name)(config, None))
        chain = BuiltFilterChain(
            FilterChainMatch(),
            (lambda conn, ctx: conn.add_read_filter(Capture(ctx.shared["log"], ctx.shared["ended"])),),
            ("capture",),
            name="default_filter_chain",
        )
        _BUILT[key] = BuiltListener(
            "lf", LOCAL, 1 << 20, (), listener_filters=tuple(makers), default_filter_chain=chain
        )
    return _BUILT[key]


def run_once(listener, pieces, read_size: int, connections=None, refused=None):
    """(outcome, stats, found, bytes the chain got, whether its end of stream reached the chain) of one
    connection sending `pieces`, then its end; the connection is appended to `connections` if given.
    `refused(bytes so far)`: whether the references already refuse the connection on those bytes; it
    must then be closed before the next piece (listener_filter_refused_late)."""
    dispatcher = SimulatedDispatcher()
    ctx = ServerContext(dispatcher=dispatcher, network=None)
    log = ctx.shared["log"] = []
    ended = ctx.shared["ended"] = []
    sock = sim.SimSocket(read_size)
    conn = listener.create_connection(ctx, sock, LOCAL, REMOTE)
    if connections is not None:
        connections.append(conn)
    for i, piece in enumerate(pieces):
        sock.peer_send(piece, end_stream=i == len(pieces) - 1)
        dispatcher.run_posted()
        if refused is not None and i < len(pieces) - 1 and conn.is_open and refused(bytes(sock.sent)):
            raise InvariantViolation(
                "listener_filter_refused_late",
                f"the first {len(sock.sent)} bytes already decide the listener filters refuse the connection "
                f"({bytes(sock.sent[:40])!r}...); it is still open, waiting for more",
            )
    found = (
        conn.transport_protocol,
        conn.server_name,
        conn.application_protocols,
        conn.remote_address,
        conn.local_address,
        conn.stream_info.get("proxy_protocol_tlvs"),
    )
    stats = tuple(sorted((k, v) for k, v in ctx.stats.counters.items() if v))
    return ("passed" if log else "closed"), stats, found, b"".join(log), bool(ended)


def decode(data: bytes):
    """(filters, allow_without, read size, pieces) of an input (the layout in the docstring)."""
    reader = Reader(data)
    choice = reader.int(1, 256)
    filters = FILTER_SETS[(choice & 0x7F) % len(FILTER_SETS)]
    mode = reader.int(1, 256)
    read_size = READ_SIZES[(mode & 0x3F) % len(READ_SIZES)]
    cuts = [reader.int(2, 1 << 16) for _ in range(reader.int(1, 16))]
    payload = reader.bytes(reader.remaining())
    if mode & 0x40:
        payload = synthesized_client_hello(payload)
    if mode & 0x80 and payload:
        payload = (payload * (PADDED // len(payload) + 1))[:PADDED]
    if len(payload) > 4096:
        read_size = READ_SIZES[0]  # small reads of 64 KiB are quadratic (each re-reads what is held)
    points = [0] + sorted(c % (len(payload) + 1) for c in cuts) + [len(payload)]
    return filters, bool(choice & 0x80), read_size, [payload[a:b] for a, b in zip(points, points[1:])]


def describe(data: bytes) -> str:
    """An input as run reads it, for triage."""
    filters, allow_without, read_size, pieces = decode(data)
    head = f"filters {' -> '.join(filters)}{' (PROXY header optional)' if allow_without else ''}, read size {read_size}"
    return "\n".join([head] + [f"  piece {i}: {len(p)} bytes {p[:60]!r}" for i, p in enumerate(pieces)])


def run(data: bytes) -> None:
    filters, allow_without, read_size, pieces = decode(data)
    payload = b"".join(pieces)
    listener = _built(filters, allow_without)
    connections: list = []
    whole = run_once(listener, [payload], 16 * 1024, connections)
    split = run_once(listener, pieces, read_size, refused=lambda sent: refused_already(filters, sent, allow_without))
    if whole != split:
        raise InvariantViolation(
            "listener_filter_split_variance", f"{filters}: one read {whole[:3]} vs pieces of {read_size} {split[:3]}"
        )
    outcome, _, found, upstream, ended = whole
    want_outcome, want, want_upstream = expected(filters, payload, allow_without, tlv_types=TLV_TYPES)
    if outcome != want_outcome:
        raise InvariantViolation("listener_filter_outcome", f"{filters}: {outcome}, the references say {want_outcome}")
    if outcome == "passed":
        got = dict(zip(("transport", "name", "protocols", "remote", "local", "tlvs"), found))
        if got != want:
            raise InvariantViolation("listener_filter_found", f"{filters}: found {got}, the references {want}")
        server_name_ladder.check(got["name"])  # the chain such a name selects, by Envoy's precedence
        found_facts_chains.check(connections[0], REMOTE[0])  # the direct peer and the named endpoints apart
        if not ended:
            raise InvariantViolation(
                "listener_filter_end_of_stream_lost",
                f"{filters}: the connection passed to its chain, which never got the client's end of stream "
                f"(the client sent {len(payload)} bytes, then ended its side)",
            )
        if upstream != want_upstream:
            raise InvariantViolation(
                "listener_filter_consumed_application_bytes",
                f"{filters}: the chain got {len(upstream)} bytes, {len(want_upstream)} follow the PROXY header",
            )


def synthesized_client_hello(fields: bytes) -> bytes:
    """A first flight from fields: byte 0 bit 0 a PROXY v1 header first, bits 1-7 the record size
    (0: one record); byte 1 the server name's length, then its bytes (none: no server_name
    extension); byte 2 how many ALPN names (0: no extension), each a length byte and its bytes;
    the rest after the ClientHello (0-RTT data). Lengths and records follow RFC 8446 4.1.2, 5.1,
    RFC 6066 3 and RFC 7301 3.1; the bytes in them are the fuzzer's."""
    r = Reader(fields)
    flags = r.int(1, 256)
    name = r.bytes(r.int(1, 256))
    alpn = [r.bytes(r.int(1, 256)) for _ in range(r.int(1, 8))]
    rest = r.bytes(r.remaining())

    def vector(body: bytes, width: int) -> bytes:
        return len(body).to_bytes(width, "big") + body

    extensions = b"\x00\x2b" + vector(vector(b"\x03\x04\x03\x03", 1), 2)  # supported_versions
    if name:
        extensions += b"\x00\x00" + vector(vector(b"\x00" + vector(name, 2), 2), 2)
    if alpn:
        extensions += b"\x00\x10" + vector(vector(b"".join(vector(a, 1) for a in alpn), 2), 2)
    body = (
        b"\x03\x03"
        + bytes(32)
        + vector(bytes(32), 1)
        + vector(b"\x13\x01\x13\x02", 2)
        + b"\x01\x00"
        + vector(extensions, 2)
    )
    stream = b"\x01" + len(body).to_bytes(3, "big") + body
    size = (flags >> 1) or len(stream)
    records = b"".join(
        b"\x16\x03\x01" + len(stream[i : i + size]).to_bytes(2, "big") + stream[i : i + size]
        for i in range(0, len(stream), size)
    )
    header = b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 10000\r\n" if flags & 1 else b""
    return header + records + rest


def seed(filters, data: bytes, *, allow_without=False, read_size=0, cuts=(), padded=False, fields=False) -> bytes:
    """An input for `filters` sending `data` (encoding of run's layout); `fields`: `data` are
    synthesized_client_hello's fields."""
    choice = FILTER_SETS.index(tuple(filters)) | (0x80 if allow_without else 0)
    mode = read_size | (0x80 if padded else 0) | (0x40 if fields else 0)
    return bytes([choice, mode, len(cuts)]) + b"".join(c.to_bytes(2, "big") for c in cuts) + data


def client_hello(name=None, alpn=(), maximum=None, context=None) -> bytes:
    """The first flight of a real TLS client (Python's OpenSSL) asking for `name` and `alpn`."""
    import ssl

    ctx = context or ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if context is None:
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    if maximum:
        ctx.maximum_version = maximum
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    bio = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), bio, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return bio.read()


def reframe(data: bytes, size: int) -> bytes:
    """The same handshake bytes in records of at most `size` bytes (RFC 8446 5.1 allows it)."""
    stream, pos = b"", 0
    while pos + 5 <= len(data):
        n = int.from_bytes(data[pos + 3 : pos + 5], "big")
        stream += data[pos + 5 : pos + 5 + n]
        pos += 5 + n
    return b"".join(
        b"\x16\x03\x01" + len(stream[i : i + size]).to_bytes(2, "big") + stream[i : i + size]
        for i in range(0, len(stream), size)
    )


def write_seeds(out) -> int:
    """Seeds: real ClientHellos (several names and protocol lists, re-framed into small records),
    PROXY v1 and v2 headers (TLVs, LOCAL, UNSPEC, refused families), request lines, the HTTP/2
    preface, and each behind a PROXY header."""
    import ssl
    from pathlib import Path

    v4 = bytes([192, 0, 2, 1, 127, 0, 0, 1]) + (5000).to_bytes(2, "big") + (10000).to_bytes(2, "big")
    v6 = bytes(15) + b"\x01" + bytes(15) + b"\x01" + (1).to_bytes(2, "big") + (2).to_bytes(2, "big")

    def v2(command, family, block):
        return (
            proxy_header_reference.SIGNATURE_V2
            + bytes([0x20 | command, family])
            + len(block).to_bytes(2, "big")
            + block
        )

    hellos = {
        "sni-alpn": client_hello("www.example.com", ("h2", "http/1.1")),
        "sni": client_hello("a.test", ()),
        "bare": client_hello(None, ()),
        "tls12": client_hello("example.com", ("http/1.1",), ssl.TLSVersion.TLSv1_2),
    }
    hellos["fragmented"] = reframe(hellos["sni-alpn"], 40)
    proxy = {
        "v1-tcp4": b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 10000\r\n",
        "v1-tcp6": b"PROXY TCP6 2001:db8::1 ::1 5000 10000\r\n",
        "v1-unknown": b"PROXY UNKNOWN\r\n",
        "v2-inet-tlvs": v2(1, 0x11, v4 + b"\x02\x00\x05a.com" + b"\x20\x00\x01\x01"),
        "v2-inet6": v2(1, 0x21, v6),
        "v2-local": v2(0, 0x00, b""),
        "v2-local-inet": v2(0, 0x11, v4),  # a health check that fills the block: discarded all the same
        "v2-unspec": v2(1, 0x01, v4),
        "v2-unix": v2(1, 0x31, bytes(216)),
        "v2-short": v2(1, 0x11, v4[:8]),
    }
    http = {
        "get11": b"GET /a?b HTTP/1.1\r\nhost: a\r\n\r\n",
        "get10": b"GET / HTTP/1.0\r\n\r\n",
        "h2c": H2_PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00",
        "junk": b"\x00\x01garbage\r\n",
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = {}
    for name, data in hellos.items():
        seeds[f"tls-{name}"] = seed(("tls_inspector",), data, read_size=2, cuts=(3, 60))
        seeds[f"tls-http-{name}"] = seed(("tls_inspector", "http_inspector"), data)
        seeds[f"pp-tls-{name}"] = seed(("proxy_protocol", "tls_inspector"), proxy["v2-inet-tlvs"] + data, read_size=3)
    seeds["tls-too-large"] = seed(("tls_inspector",), hellos["bare"][:200], padded=True)
    for name, data in proxy.items():
        seeds[f"pp-{name}"] = seed(("proxy_protocol",), data + b"payload", read_size=1, cuts=(6,))
        seeds[f"pp-http-{name}"] = seed(("proxy_protocol", "http_inspector"), data + http["get11"])
    seeds["pp-absent-allowed"] = seed(("proxy_protocol",), http["get11"], allow_without=True)
    # The v1 line at its bound (107 bytes with the CRLF: accepted) and past it (refused once 107
    # bytes hold no CRLF, before the rest arrives), in pieces that stop just after the bound.
    at_bound = b"PROXY UNKNOWN " + b"x" * 91 + b"\r\n"
    seeds["pp-v1-line-107-bytes"] = seed(("proxy_protocol",), at_bound + b"payload", read_size=3, cuts=(106, 110))
    seeds["pp-v1-line-past-107-bytes"] = seed(
        ("proxy_protocol",), at_bound[:-2] + b"yy\r\n" + b"payload", read_size=3, cuts=(106, 110)
    )
    # A header and the end of stream with nothing after it (a balancer's health check that half-closes).
    seeds["pp-header-alone"] = seed(("proxy_protocol",), proxy["v1-tcp4"])
    seeds["pp-v2-header-alone"] = seed(("proxy_protocol",), proxy["v2-inet-tlvs"], read_size=1)

    def fields(flags, name, alpn=(), rest=b""):
        return (
            bytes([flags, len(name)]) + name + bytes([len(alpn)]) + b"".join(bytes([len(a)]) + a for a in alpn) + rest
        )

    for i, (flags, sni, alpn) in enumerate(
        (
            (0, b"www.example.com", (b"h2", b"http/1.1")),
            (0, b"a.test", ()),
            (0, b"", (b"h2",)),
            (2 * 9, b"localhost", (b"http/1.1",)),
            (1, b"api.example.com", (b"h2",)),
            (0, b"x", (b"h2c", b"spdy/3")),
            (2 * 64, b"a-b_c.example.org", ()),
            (0, b"xn--bcher-kva.example", (b"h3",)),
            (2 * 3, b"www.example.com", (b"http/1.0",)),
        )
    ):
        filters = ("proxy_protocol", "tls_inspector") if flags & 1 else ("tls_inspector",)
        seeds[f"fields-{i}"] = seed(
            filters, fields(flags, sni, alpn, b"\x17\x03\x03\x00\x01x"), fields=True, read_size=i % 3
        )
    for name, data in http.items():
        seeds[f"http-{name}"] = seed(("http_inspector",), data, read_size=1)
    for name, data in seeds.items():
        (out / name).write_bytes(data)
    return len(seeds)


if __name__ == "__main__":
    import sys

    print(f"wrote {write_seeds(sys.argv[1] if len(sys.argv) > 1 else 'corpus/listener_filter')} seeds")
