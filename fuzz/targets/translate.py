"""The proxy's translation path, differentially checked: downstream server codec -> protocol-neutral
events -> upstream client codec, and the upstream bytes re-parsed by independent parsers.

Input modes (no prefix byte, so real traffic is a valid seed):
- starts with the HTTP/2 client preface: raw h2 downstream bytes, forwarded to HTTP/1.1 (h2 -> h1);
- starts with 0x00: structured h2 requests built from the rest with FuzzedDataProvider (arbitrary
  header names and values, content-length, trailers) sent by an h2 client codec, then h2 -> h1;
- anything else: raw HTTP/1.1 downstream bytes, forwarded both to HTTP/1.1 and to HTTP/2.

Every request the server codec accepted whole (a buffering proxy: headers, body and trailers) is
forwarded through one upstream client connection; each h1 upstream exchange is answered with an
empty 200 so the connection is reused. The upstream bytes are then parsed again:
- HTTP/1.1 upstream: by h11 and by a stdlib parser (request line split here, fields with
  `http.client.parse_headers`, body by Content-Length or chunked); the two must agree with each
  other and with the accepted requests;
- HTTP/2 upstream: by an h2 server connection.
Oracle names: translate_count_mismatch (smuggling: a different number of requests upstream),
translate_<field>_mismatch (method, target, authority, headers, body, trailers),
translate_<parser>_rejects (an independent parser refuses what the proxy sent),
translate_unforwardable (the client codec refused a request the server codec accepted).
"""

import io
from dataclasses import dataclass, field
from http import client as http_client

import atheris
import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h11

from fuzz.oracles import InvariantViolation
from fuzz.targets.reference import meaning_fields
from proxy.http.codec import H2_PREFACE, CodecUsageError, Data, ProtocolError, RequestHeaders, StreamReset, \
    Trailers, create_client_codec, create_server_codec

MAX_REQUESTS = 32
UPSTREAM_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


@dataclass
class Request:
    """A request as one party understood it."""
    method: bytes
    target: bytes
    authority: bytes
    fields: list
    body: bytes = b""
    trailers: list = field(default_factory=list)

    def key(self) -> tuple:
        return (self.method, self.target, self.authority, comparable(self.fields), self.body,
                comparable(self.trailers))


def comparable(fields: list) -> list:
    """Fields as a request's meaning: hop-by-hop, host, expect, content-length and te removed
    (the upstream codecs choose framing and never forward te), names lowercase."""
    return [(n, v) for n, v in meaning_fields([(bytes(n).lower(), bytes(v)) for n, v in fields]) if n != b"te"]


def _fail(name: str, detail: str) -> None:
    raise InvariantViolation(name, detail)


# ----------------------------------------------------------------------------- downstream side
def accept(kind: str, data: bytes) -> list[Request]:
    """Feed downstream bytes (then EOF) to a server codec; the requests it accepted whole, in order."""
    server = create_server_codec(kind)
    events = list(server.receive_data(data))
    done: list[Request] = []
    state: dict[int, tuple[RequestHeaders, bytearray]] = {}
    answered: set[int] = set()

    def absorb(evs):
        for ev in evs:
            if isinstance(ev, RequestHeaders):
                state[ev.stream_id] = (ev, bytearray())
                if ev.end_stream:
                    finish(ev.stream_id, [])
            elif isinstance(ev, Data) and ev.stream_id in state:
                state[ev.stream_id][1].extend(ev.data)
                if ev.end_stream:
                    finish(ev.stream_id, [])
            elif isinstance(ev, Trailers) and ev.stream_id in state:
                finish(ev.stream_id, ev.headers)
            elif isinstance(ev, (StreamReset, ProtocolError)) and ev.stream_id in state:
                state.pop(ev.stream_id)

    def finish(sid, trailers):
        head, body = state.pop(sid)
        done.append(Request(head.method, head.target, head.authority, head.headers, bytes(body), list(trailers)))
        if sid not in answered:  # free the pipelining slot, as the proxy would once the response is back
            answered.add(sid)
            server.send_headers(sid, 200, [(b"content-length", b"0")], end_stream=True)

    for _ in range(MAX_REQUESTS * 2):
        absorb(events)
        events = server.pending_events()
        if not events:
            break
    absorb(server.receive_data(b""))
    return done[:MAX_REQUESTS]


# ------------------------------------------------------------------------------- upstream side
def forward(kind: str, requests: list[Request]) -> tuple[list[Request], bytes]:
    """Send the requests through one upstream client codec; (the requests sent, the bytes written)."""
    client = create_client_codec(kind)
    wire = bytearray(client.data_to_send())
    sent = []
    for req in requests:
        if not req.authority:
            continue  # an HTTP/1.0 request without Host: no authority to send upstream; the proxy answers it
        if not client.can_send_request():
            _fail("translate_unforwardable", f"upstream {kind} connection cannot take request {len(sent) + 1}")
        end = not req.body and not req.trailers
        try:
            sid = client.send_request_headers(req.method, req.target, req.authority, req.fields, end_stream=end)
            if not end:
                client.send_data(sid, req.body, end_stream=not req.trailers)
                if req.trailers:
                    client.send_trailers(sid, req.trailers)
        except CodecUsageError as e:
            _fail("translate_unforwardable", f"{kind} client codec refused accepted request {req!r}: {e}")
        sent.append(req)
        wire += client.data_to_send()
        if kind == "HTTP1":  # the upstream answers, so the keep-alive connection takes the next request
            client.receive_data(UPSTREAM_OK)
    return sent, bytes(wire)


# ------------------------------------------------------------------------------- re-parsers
def parse_h11(wire: bytes) -> list[Request]:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(wire)
    conn.receive_data(b"")
    out: list[Request] = []
    current = None
    try:
        for _ in range(MAX_REQUESTS * 64 + 64):
            ev = conn.next_event()
            if isinstance(ev, h11.Request):
                fields = [(bytes(n), bytes(v)) for n, v in ev.headers]
                host = next((v for n, v in fields if n == b"host"), b"")
                current = Request(bytes(ev.method), bytes(ev.target), host, fields)
            elif isinstance(ev, h11.Data):
                current.body += bytes(ev.data)
            elif isinstance(ev, h11.EndOfMessage):
                current.trailers = [(bytes(n), bytes(v)) for n, v in ev.headers]
                out.append(current)
                conn.send(h11.Response(status_code=200, headers=[(b"content-length", b"0")]))
                conn.send(h11.EndOfMessage())
                conn.start_next_cycle()
            elif ev is h11.NEED_DATA or isinstance(ev, h11.ConnectionClosed) or ev is h11.PAUSED:
                if ev is h11.NEED_DATA and conn.their_state is not h11.IDLE:
                    _fail("translate_h11_rejects", f"upstream bytes end inside a request: {wire[-120:]!r}")
                return out
    except h11.RemoteProtocolError as e:
        _fail("translate_h11_rejects", f"h11 refused the upstream bytes: {e}; bytes {wire[:300]!r}")
    _fail("translate_h11_rejects", "h11 produced no end of input")


def _line(stream: io.BytesIO) -> bytes:
    line = stream.readline(65537)
    if not line.endswith(b"\r\n"):
        _fail("translate_stdlib_rejects", f"line not ended by CRLF: {line[:80]!r}")
    return line[:-2]


class StdlibLimit(Exception):
    """http.client's own cap (100 fields per head) was hit: a limit of the stdlib parser, not a
    disagreement; that input is compared by h11 only."""


def parse_stdlib(wire: bytes) -> list[Request]:
    """Requests as the standard library reads them: request line split on single spaces (as
    http.server does), fields by http.client.parse_headers (email.parser), body framed here."""
    stream = io.BytesIO(wire)
    out: list[Request] = []
    while stream.tell() < len(wire) and len(out) <= MAX_REQUESTS:
        parts = _line(stream).split(b" ")
        if len(parts) != 3 or parts[2] != b"HTTP/1.1":
            _fail("translate_stdlib_rejects", f"request line {b' '.join(parts)[:120]!r}")
        try:
            msg = http_client.parse_headers(stream)
        except http_client.HTTPException as e:
            if "more than" in str(e):
                raise StdlibLimit(str(e)) from None
            _fail("translate_stdlib_rejects", f"parse_headers: {e!r}")
        if msg.defects:
            _fail("translate_stdlib_rejects", f"header defects {msg.defects!r}")
        fields = [(n.encode("latin-1").lower(), v.encode("latin-1")) for n, v in msg.items()]
        req = Request(parts[0], parts[1], (msg.get("host") or "").encode("latin-1"), fields)
        te, cl = msg.get_all("transfer-encoding") or [], msg.get_all("content-length") or []
        if te and cl or len(cl) > 1 or len(te) > 1:
            _fail("translate_stdlib_rejects", f"ambiguous framing: te={te} cl={cl}")
        if te:
            if te != ["chunked"]:
                _fail("translate_stdlib_rejects", f"transfer-encoding {te}")
            while True:
                size = int(_line(stream).split(b";")[0], 16)
                if size == 0:
                    break
                req.body += stream.read(size)
                if _line(stream) != b"":
                    _fail("translate_stdlib_rejects", "chunk data not followed by CRLF")
            trailer = http_client.parse_headers(stream)
            req.trailers = [(n.encode("latin-1").lower(), v.encode("latin-1")) for n, v in trailer.items()]
        elif cl:
            n = int(cl[0])
            req.body = stream.read(n)
            if len(req.body) != n:
                _fail("translate_stdlib_rejects", "body shorter than content-length")
        out.append(req)
    return out


def parse_h2(wire: bytes) -> list[Request]:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    conn.initiate_connection()
    try:
        events = conn.receive_data(wire)
    except h2.exceptions.ProtocolError as e:
        _fail("translate_h2_rejects", f"h2 server refused the upstream bytes: {e!r}")
    streams: dict[int, Request] = {}
    order: list[int] = []
    for ev in events:
        if isinstance(ev, h2.events.RequestReceived):
            block = [(bytes(n), bytes(v)) for n, v in ev.headers]
            pseudo = {n: v for n, v in block if n.startswith(b":")}
            streams[ev.stream_id] = Request(pseudo.get(b":method", b""), pseudo.get(b":path", b""),
                                            pseudo.get(b":authority", b""), [f for f in block if not f[0].startswith(b":")])
            order.append(ev.stream_id)
        elif isinstance(ev, h2.events.DataReceived):
            streams[ev.stream_id].body += bytes(ev.data)
        elif isinstance(ev, h2.events.TrailersReceived):
            streams[ev.stream_id].trailers = [(bytes(n), bytes(v)) for n, v in ev.headers]
        elif isinstance(ev, h2.events.StreamReset):
            _fail("translate_h2_rejects", f"upstream stream {ev.stream_id} reset")
    return [streams[s] for s in order]


# ------------------------------------------------------------------------------------ oracle
def compare(what: str, accepted: list[Request], parsed: list[Request]) -> None:
    if len(accepted) != len(parsed):
        _fail("translate_count_mismatch", f"{what}: the proxy forwarded {len(accepted)} request(s), the parser "
                                          f"reads {len(parsed)}: {[r.target for r in parsed]!r}")
    names = ("method", "target", "authority", "headers", "body", "trailers")
    for i, (a, p) in enumerate(zip(accepted, parsed)):
        for name, x, y in zip(names, a.key(), p.key()):
            if x != y:
                _fail(f"translate_{name}_mismatch", f"{what}, request {i + 1}: proxy accepted {x!r}, "
                                                    f"the parser reads {y!r}")


def translate(downstream: str, upstream: str, data: bytes) -> int:
    """One direction; returns how many requests went upstream."""
    sent, wire = forward(upstream, accept(downstream, data))
    if upstream == "HTTP1":
        compare(f"{downstream}->h1 (h11)", sent, parse_h11(wire))
        try:
            compare(f"{downstream}->h1 (stdlib)", sent, parse_stdlib(wire))
        except StdlibLimit:
            pass
    else:
        compare(f"{downstream}->h2 (h2)", sent, parse_h2(wire))
    return len(sent)


# ---------------------------------------------------------------------------- structured h2
NAMES = [b"accept", b"content-length", b"transfer-encoding", b"te", b"host", b"connection", b"cookie",
         b"x-a", b"Upper", b"", b"x y", b"x\r\ny"]


def structured_h2(data: bytes) -> bytes:
    """h2 downstream bytes for requests built from the input (arbitrary header bytes included),
    sent by an h2 client codec; requests it refuses to encode are skipped."""
    fdp = atheris.FuzzedDataProvider(data)
    client = create_client_codec("HTTP2")
    wire = bytearray(client.data_to_send())
    for _ in range(fdp.ConsumeIntInRange(1, 6)):
        method = fdp.PickValueInList([b"GET", b"POST", b"PUT", b"G T", b"HEAD"])
        path = fdp.PickValueInList([b"/", b"/a?b", b"/ x", b"*", b"/\r\nx", b"http://h/"])
        authority = fdp.PickValueInList([b"a.example", b"b:80", b"a b", b"", b"a\r\nb"])
        fields = []
        for _ in range(fdp.ConsumeIntInRange(0, 4)):
            name = fdp.PickValueInList(NAMES) if fdp.ConsumeBool() else fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 8))
            fields.append((name, fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 12))))
        body = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
        try:
            sid = client.send_request_headers(method, path, authority, fields, end_stream=not body)
            if body:
                client.send_data(sid, body, end_stream=True)
        except (CodecUsageError, ValueError):
            continue
        wire += client.data_to_send()
    return bytes(wire)


def check(data: bytes) -> None:
    if data.startswith(H2_PREFACE):
        translate("HTTP2", "HTTP1", data)
    elif data[:1] == b"\x00":
        translate("HTTP2", "HTTP1", structured_h2(data[1:]))
    else:
        translate("HTTP1", "HTTP1", data)
        translate("HTTP1", "HTTP2", data)
