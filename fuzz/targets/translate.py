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
- HTTP/1.1 upstream: by h11, the standard library and llhttp (fuzz/peers/h1_parsers.py); the three
  must agree with each other and with the accepted requests;
- HTTP/2 upstream: by an h2 server connection.
Every forwarded request must conform (fuzz/peers/judge.py: target, authority, fields, trailers by
the RFCs), and, for downstream bytes that an independent reader (h11 for HTTP/1.1, an h2 server
connection for HTTP/2) reads as exactly as many complete requests as the proxy forwarded, mean what
the client sent (fuzz/peers/forwarding_model.py: the HTTP/2 -> HTTP/1.1 downgrade included, cookie
crumbs joined by "; " as RFC 9113 8.2.3 says).
Oracle names: translate_count_mismatch (smuggling: a different number of requests upstream),
translate_<field>_mismatch (method, target, authority, headers, body, trailers),
translate_<parser>_rejects (an independent parser refuses what the proxy sent),
translate_unforwardable (the client codec refused a request the server codec accepted),
translate_field_limit_exceeded (a server codec accepted more header or trailer fields than
CodecLimits.max_headers),
h2_window_not_credited / h2_window_overcredited / h2_window_out_of_range (an HTTP/2 server codec whose
accepted bytes were all consumed must have credited every one back: fuzz/flow_control.py),
peer_forwarded_* (conformance and meaning, as in sessions).
"""

import dataclasses
from collections.abc import Iterable
from typing import Literal, NoReturn

import atheris
import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from fuzz.flow_control import check_h2_windows
from fuzz.oracles import InvariantViolation
from fuzz.peers import judge
from fuzz.peers.forwarding_model import NO_REWRITES
from fuzz.peers.h1_parsers import agree, comparable
from fuzz.peers.h1_stream import RequestStream
from fuzz.peers.record import Message
from proxy.http.codec import (
    DEFAULT_LIMITS,
    H2_PREFACE,
    CodecUsageError,
    Data,
    HeaderListTooLarge,
    ProtocolViolation,
    RequestHeaders,
    StreamReset,
    Trailers,
)
from proxy.http._h2_quiet import quiet
from proxy.http.codec_select import create_client_codec, create_server_codec
from proxy.http.h2 import H2ServerCodec

MAX_REQUESTS = 32
UPSTREAM_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
Kind = Literal["HTTP1", "HTTP2"]  # a codec on either side of the translation
Fields = Iterable[tuple[bytes, bytes]]


def Request(
    method: bytes, target: bytes, authority: bytes, fields: Fields, body: bytes = b"", trailers: Fields = ()
) -> Message:
    """A request as one party understood it."""
    return Message(
        method=bytes(method),
        target=bytes(target),
        authority=bytes(authority),
        headers=[(bytes(n), bytes(v)) for n, v in fields],
        body=bytearray(body),
        trailers=[(bytes(n), bytes(v)) for n, v in trailers],
        complete=True,
    )


def key(req: Message) -> tuple:
    return (req.method, req.target, req.authority, comparable(req.headers), bytes(req.body), comparable(req.trailers))


def _fail(name: str, detail: str) -> NoReturn:
    raise InvariantViolation(name, detail)


# ----------------------------------------------------------------------------- downstream side
def check_field_count(kind: Kind, ev: RequestHeaders | Trailers) -> None:
    """proxy/http/codec.py CodecLimits, "bounds every codec enforces": no server codec hands on a
    header or trailer section of more than max_headers fields (HTTP/1.1 answers 431). Found
    black-box: HTTP/2 requests with 150 fields reached HTTP/1.1 upstreams."""
    if len(ev.headers) > DEFAULT_LIMITS.max_headers:
        _fail(
            "translate_field_limit_exceeded",
            f"{kind} server codec accepted {type(ev).__name__} of stream {ev.stream_id} with "
            f"{len(ev.headers)} fields (limit {DEFAULT_LIMITS.max_headers})",
        )


def accept(kind: Kind, data: bytes) -> list[Message]:
    """Feed downstream bytes (then EOF) to a server codec; the requests it accepted whole, in order."""
    server = create_server_codec(kind)
    events = list(server.receive_data(data))
    done: list[Message] = []
    state: dict[int, tuple[RequestHeaders, bytearray]] = {}
    answered: set[int] = set()

    def absorb(evs):
        for ev in evs:
            if isinstance(ev, Data):
                server.consume(ev.stream_id, len(ev.data))  # buffered (or dropped): the window may reopen
            if isinstance(ev, (RequestHeaders, Trailers)):
                check_field_count(kind, ev)
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
            elif isinstance(ev, (StreamReset, ProtocolViolation)) and ev.stream_id in state:
                state.pop(ev.stream_id)

    def finish(sid, trailers):
        head, body = state.pop(sid)
        done.append(Request(head.method, head.target, head.authority, head.headers, bytes(body), list(trailers)))
        if sid not in answered:  # free the pipelining slot, as the proxy would once the response is back
            answered.add(sid)
            try:
                server.send_headers(sid, 200, [(b"content-length", b"0")], end_stream=True)
            except HeaderListTooLarge:
                pass  # an HTTP/2 client that accepts fewer header bytes than a 200: no slot to free

    for _ in range(MAX_REQUESTS * 2):
        absorb(events)
        events = server.pending_events()
        if not events:
            break
    if (
        isinstance(server, H2ServerCodec) and not server._dead
    ):  # HTTP2: everything delivered was consumed: all of it credited back
        check_h2_windows("downstream h2 server codec", server, consumed_all=True)
    absorb(server.receive_data(b""))
    return done[:MAX_REQUESTS]


# ------------------------------------------------------------------------------- upstream side
def forward(kind: Kind, requests: list[Message]) -> tuple[list[Message], bytes]:
    """Send the requests through one upstream client codec; (the requests sent, the bytes written)."""
    client = create_client_codec(kind)
    wire = bytearray(client.data_to_send())
    sent: list[Message] = []
    for req in requests:
        if not req.authority:
            continue  # an HTTP/1.0 request without Host: no authority to send upstream; the proxy answers it
        if not client.can_send_request():
            _fail("translate_unforwardable", f"upstream {kind} connection cannot take request {len(sent) + 1}")
        end = not req.body and not req.trailers
        try:
            sid = client.send_request_headers(req.method, req.target, req.authority, req.headers, end_stream=end)
            if not end:
                client.send_data(sid, bytes(req.body), end_stream=not req.trailers)
                if req.trailers:
                    client.send_trailers(sid, req.trailers)
        except CodecUsageError as e:
            _fail("translate_unforwardable", f"{kind} client codec refused accepted request {req!r}: {e}")
        sent.append(framed(kind, req))
        wire += client.data_to_send()
        if kind == "HTTP1":  # the upstream answers, so the keep-alive connection takes the next request
            client.receive_data(UPSTREAM_OK)
    return sent, bytes(wire)


def framed(kind: Kind, req: Message) -> Message:
    """What an upstream can receive of `req`: an HTTP/1.1 body framed by Content-Length has no place
    for trailers, so the codec drops them (Envoy's HTTP/1 codec sends trailers only with chunked
    encoding; RFC 9110 6.5.1 lets a recipient discard them; docs/semantics.md, forwarded trailers)."""
    if kind == "HTTP1" and req.trailers and any(n.lower() == b"content-length" for n, _ in req.headers):
        return dataclasses.replace(req, trailers=[])
    return req


# ------------------------------------------------------------------------------- re-parsers
def _h2_request(headers, host_for_authority: bool = False) -> Message:
    """A request from an HTTP/2 header block; a client's Host stands for a missing :authority."""
    block = [(bytes(n), bytes(v)) for n, v in headers]
    pseudo = {n: v for n, v in block if n.startswith(b":")}
    host = next((v for n, v in block if n == b"host"), b"") if host_for_authority else b""
    return Request(
        pseudo.get(b":method", b""),
        pseudo.get(b":path", b""),
        pseudo.get(b":authority", host),
        [f for f in block if not f[0].startswith(b":")],
    )


def parse_h2(wire: bytes) -> list[Message]:
    # Cookie crumbs are compared as crumbs: h2's own joining turns a valid empty crumb into a value
    # ending in "; " and then refuses it as surrounded by whitespace (a flaw of the reader, not of
    # what the proxy sent, RFC 9113 8.2.3).
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding=None, normalize_inbound_headers=False)
    )
    quiet(conn)  # no repr(frame) built per received frame for h2's log, which is off
    conn.initiate_connection()
    try:
        events = conn.receive_data(wire)
    except h2.exceptions.ProtocolError as e:
        _fail("translate_h2_rejects", f"h2 server refused the upstream bytes: {e!r}")
    streams: dict[int, Message] = {}
    order: list[int] = []
    for ev in events:
        if isinstance(ev, h2.events.RequestReceived):
            streams[ev.stream_id] = _h2_request(ev.headers)
            order.append(ev.stream_id)
        elif isinstance(ev, h2.events.DataReceived):
            streams[ev.stream_id].body += ev.data
        elif isinstance(ev, h2.events.TrailersReceived):
            streams[ev.stream_id].trailers = [(bytes(n), bytes(v)) for n, v in ev.headers]
        elif isinstance(ev, h2.events.StreamReset):
            _fail("translate_h2_rejects", f"upstream stream {ev.stream_id} reset")
    return [streams[s] for s in order]


# ------------------------------------------------------------------------------------ oracle
def compare(what: str, accepted: list[Message], parsed: list[Message]) -> None:
    if len(accepted) != len(parsed):
        _fail(
            "translate_count_mismatch",
            f"{what}: the proxy forwarded {len(accepted)} request(s), the parser "
            f"reads {len(parsed)}: {[r.target for r in parsed]!r}",
        )
    names = ("method", "target", "authority", "headers", "body", "trailers")
    for i, (a, p) in enumerate(zip(accepted, parsed)):
        for name, x, y in zip(names, key(a), key(p)):
            if x != y:
                _fail(
                    f"translate_{name}_mismatch",
                    f"{what}, request {i + 1}: proxy accepted {x!r}, the parser reads {y!r}",
                )


def check_meaning(downstream: Kind, data: bytes, sent: list[Message], parsed: list[Message]) -> None:
    """Each forwarded request conforms; and when h11 reads the client's HTTP/1.1 bytes as exactly as
    many requests as went upstream, each means what the client sent."""
    for i, req in enumerate(parsed):
        judge.check_forwarded(req, f"{downstream}->upstream request {i + 1}")
    sent_by_client = client_requests(data) if downstream == "HTTP1" else client_h2_requests(data)
    if sent_by_client is not None and len(sent_by_client) == len(parsed):
        for i, (mine, theirs) in enumerate(zip(sent_by_client, parsed)):
            judge.check_meaning_of(mine, theirs, NO_REWRITES, f"client request {i + 1} -> upstream")


_last_client: tuple[bytes | None, list[Message] | None] = (None, None)


def client_requests(data: bytes) -> list[Message] | None:
    """The requests h11 reads in a client's HTTP/1.1 bytes (None if it refuses some), read once per
    input although both upstream directions ask."""
    global _last_client
    if _last_client[0] is not data:
        client = RequestStream()
        client.feed(data, 0)
        _last_client = (data, [m for m in client.messages if m.complete] if client.error is None else None)
    return _last_client[1]


def client_h2_requests(data: bytes) -> list[Message] | None:
    """The complete requests an h2 server connection (the library, not the proxy's codec) reads in a
    client's HTTP/2 bytes, in the order they ended; None when it refuses the bytes. Cookie crumbs stay
    crumbs; the window is opened as far as it goes, so a client that keeps the proxy's larger SETTINGS
    reads the same."""
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding=None, normalize_inbound_headers=False)
    )
    conn.local_settings = h2.settings.Settings(
        client=False,
        initial_values={
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1,
            h2.settings.SettingCodes.MAX_FRAME_SIZE: DEFAULT_LIMITS.h2_max_frame_size,
        },
    )
    quiet(conn)
    conn.initiate_connection()
    conn.increment_flow_control_window(2**31 - 1 - 65535)
    try:
        events = conn.receive_data(data)
    except (h2.exceptions.ProtocolError, ValueError):
        return None
    streams: dict[int, Message] = {}
    done: list[Message] = []
    for ev in events:
        if isinstance(ev, h2.events.RequestReceived):
            streams[ev.stream_id] = _h2_request(ev.headers, host_for_authority=True)
        elif isinstance(ev, h2.events.DataReceived) and ev.stream_id in streams:
            streams[ev.stream_id].body += ev.data
        elif isinstance(ev, h2.events.TrailersReceived) and ev.stream_id in streams:
            streams[ev.stream_id].trailers = [(bytes(n), bytes(v)) for n, v in ev.headers]
        elif isinstance(ev, h2.events.StreamReset):
            streams.pop(ev.stream_id, None)
        if getattr(ev, "stream_ended", None) is not None or isinstance(ev, h2.events.StreamEnded):
            ended = streams.pop(getattr(ev, "stream_id", 0), None)
            if ended is not None:
                done.append(ended)
    return done


def translate(downstream: Kind, upstream: Kind, data: bytes) -> int:
    """One direction; returns how many requests went upstream."""
    sent, wire = forward(upstream, accept(downstream, data))
    if upstream == "HTTP1":
        parsed = agree("translate", f"{downstream}->h1", wire, True, reference=sent)
    else:
        parsed = parse_h2(wire)
        compare(f"{downstream}->h2 (h2)", sent, parsed)
    check_meaning(downstream, data, sent, parsed)
    return len(sent)


# ---------------------------------------------------------------------------- structured h2
NAMES = [
    b"accept",
    b"content-length",
    b"transfer-encoding",
    b"te",
    b"host",
    b"connection",
    b"cookie",
    b"x-a",
    b"Upper",
    b"",
    b"x y",
    b"x\r\ny",
]


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
