"""HTTP/2 client and server codecs back to back in memory, driven by Envoy's codec-fuzzer actions.

Each codec's writes go to a queue of fragments towards its peer (Envoy's reorder buffer); nothing
moves until a drain action delivers fragments. Actions, decoded from the input with
atheris.FuzzedDataProvider, capped at MAX_ACTIONS:

    new stream, request data, request trailers, response headers, response data, response trailers,
    reset (either side), consume (either side), mutate a queued byte, swap two fragments, drain
    (whole fragments or a few bytes), raw frame (built with hyperframe, HPACK blocks with hpack),
    HPACK round trip, GOAWAY, flood (many copies of one frame in one write), SETTINGS (before the
    first delivery, one codec is made anew with small limits chosen from the input, within what the
    configuration allows).

Oracles (InvariantViolation names):
- h2_input_raised: any exception out of receive_data (input never raises; a ProtocolViolation is the
  only way bad bytes may come out);
- h2_command_refused: a command the driver's model says is legal raised CodecUsageError;
- h2_hpack_roundtrip: hpack's Decoder does not give back the header list its Encoder encoded;
- h2_event_order / h2_event_after_end: per stream, headers come first, nothing follows the end of
  a direction but a reset, nothing follows a reset, nothing at all follows a connection error;
- h2_request_mismatch / h2_response_mismatch: while a direction carried only the codecs' own bytes,
  every request (response) the receiver saw is one the sender sent, with the same pseudo-headers
  and fields after hop-by-hop normalisation, and a valid request is never refused;
- h2_malformed_status_delivered: a response head the client codec delivered on a stream where the
  server side sent only raw heads whose :status is not three digits (fuzz/targets/h2_status.py);
- h2_data_mismatch / h2_end_not_sent: body bytes received are a prefix of those sent, all of them
  once the stream ended, and a stream the receiver saw end was ended by the sender;
- h2_flood_unchecked / h2_flood_uncounted / h2_flood_misjudged: Envoy's flood limits, judged from the
  wire by fuzz/targets/h2_floods.py;
- h2_connection_error_on_valid_input: while only the codecs' own bytes flowed (both ways), a
  connection error other than a flood defence's ENHANCE_YOUR_CALM, e.g. for a stream over the advertised
  concurrency limit sent before the SETTINGS arrived (refused alone, RFC 9113 5.1.2);
- h2_wire_*: while only the codecs' own bytes flowed, each codec's frames obey the SETTINGS the other
  advertised, by an independent monitor (fuzz/peers/h2_wire.py: windows, frame size, concurrency,
  stream states, header blocks).
Liveness, once settled (the server answers every request it read whole, all body is consumed):
- h2_wire_unearned_refused_stream: REFUSED_STREAM on a stream the client opened within the server's
  advertised SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 5.1.2; fuzz/peers/h2_wire.py);
- h2_window_not_credited / h2_window_overcredited / h2_window_out_of_range: flow-control accounting
  of both codecs (fuzz/flow_control.py); h2_outbound_stalled: body waits although its window is open;
- stall_request_without_outcome: a request the client ended saw neither a complete response nor a
  reset (while only the codecs' own bytes flowed and neither side went away).
"""

import re
from dataclasses import dataclass, field, replace
from typing import NoReturn

import atheris
import hpack
from hyperframe import frame as hf

from fuzz.field_lists import connection_options
from fuzz.flow_control import check_h2_windows
from fuzz.harness import Budget
from fuzz.oracles import InvariantViolation
from fuzz.peers.h2_wire import H2Monitor
from fuzz.targets.h2_floods import (
    Fragments,
    InboundRun,
    OutboundQueue,
    Own,
    act_flood,
    check_control_frame_floods,
    check_inbound,
    check_outbound,
    check_rapid_reset,
    check_rapid_reset_enforced,
    unwritten,
)
from fuzz.targets.h2_status import RAW_STATUSES, StatusLedger, response_block
from fuzz.targets.reference import HOP_BY_HOP
from proxy.http._h2_state import Send
from proxy.http.codec import (
    H2_PREFACE,
    CodecLimits,
    CodecUsageError,
    ConnectionClosed,
    Data,
    HeaderListTooLarge,
    InformationalResponse,
    ProtocolViolation,
    RequestHeaders,
    ResponseHeaders,
    StreamReset,
    Trailers,
    violation_code,
)
from proxy.http.h2 import ENHANCE_YOUR_CALM, H2ClientCodec, H2ServerCodec
from proxy.http.headers import TRAILER_FORBIDDEN

MAX_ACTIONS = 256
REFUSED = object()  # Pair.command's answer when the codec refused a section over the peer's limit
_ADDRESS = re.compile(r"at 0x[0-9a-fA-F]+")
CALM = violation_code(None, ENHANCE_YOUR_CALM)  # "h2_enhance_your_calm": a flood defence's code
MAX_SETTLE_ROUNDS = 64

METHODS = [b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH"]
PATHS = [b"/", b"/index.html", b"/a/b?c=d", b"/upload", b"/%41?x=%20"]
AUTHORITIES = [b"a.example", b"b.example:8080", b"[::1]:443", b"localhost"]
SCHEMES = [b"http", b"https"]
NAMES = [
    b"accept",
    b"user-agent",
    b"content-type",
    b"x-custom",
    b"cookie",
    b"te",
    b"connection",
    b"keep-alive",
    b"x-forwarded-for",
    b"cache-control",
    b"accept-encoding",
    b"authorization",
    b"expect",
]
STATUSES = [200, 204, 301, 404, 500, 100, 103]
FRAME_TYPES = [
    "data",
    "headers",
    "priority",
    "rst",
    "settings",
    "ping",
    "goaway",
    "window_update",
    "continuation",
    "push_promise",
    "unknown",
]


def _fail(name: str, detail: str) -> NoReturn:
    raise InvariantViolation(name, detail)


def normalised(headers: list) -> list:
    """The fields a request or response means, as the peer must see them: lowercase names,
    connection-specific fields, fields named by Connection, `te` other than trailers, Host and Expect
    (the receiving codec hands `Expect: 100-continue` to its owner as expect_continue) dropped."""
    named = connection_options(headers)
    out = []
    for n, v in headers:
        n = n.lower()
        if n in HOP_BY_HOP or n in (b"host", b"expect") or n.startswith(b":"):
            continue
        if n == b"te":
            if v.strip().lower() == b"trailers":
                out.append((n, b"trailers"))
            continue
        if n not in named:
            out.append((n, v))
    # h2 splits cookies into crumbs on send and joins them on receipt (RFC 9113 8.2.3): compare
    # the crumbs, not the field layout.
    crumbs = sorted(c.strip() for n, v in out if n == b"cookie" for c in v.split(b";") if c.strip())
    return [(n, v) for n, v in out if n != b"cookie"] + [(b"cookie", c) for c in crumbs]


# ------------------------------------------------------------------------------------ model
@dataclass
class Sent:
    """What a sender put on one stream."""

    head: tuple | None = None  # request: (method, path, authority, scheme, fields); response: (status, fields)
    interim: list = field(default_factory=list)  # response: informational (status, fields), in order
    body: bytearray = field(default_factory=bytearray)
    trailers: list | None = None
    ended: bool = False
    reset: bool = False


@dataclass
class Got:
    """What a receiver's events said about one stream."""

    head: RequestHeaders | ResponseHeaders | None = None
    interim: list = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    trailers: list | None = None
    ended: bool = False
    dead: bool = False
    unconsumed: int = 0


class Side:
    """One codec with its outbound queue, what it sent per stream and what it received per stream."""

    def __init__(self, name: str, codec) -> None:
        self.name = name
        self.codec = codec
        self.queue: list[bytes] = Fragments()
        self.sent: dict[int, Sent] = {}
        self.got: dict[int, Got] = {}
        self.conn_dead = False  # a connection-level ProtocolViolation was emitted
        self.closed_seen = False  # a ConnectionClosed was emitted (the peer closed or sent GOAWAY)
        self.tainted = False  # bytes towards this side were mutated, reordered or injected
        self.events: list = []
        self.inbound = InboundRun(preface=name == "server")  # flood oracles (fuzz/targets/h2_floods.py)
        self.outbound = OutboundQueue(preface=name == "client")

    def collect(self) -> None:
        codec = self.codec
        codec.note_unwritten(unwritten(self.queue))  # the queue is the wire the peer has not read
        stats, gave_up = dict(codec.stats), codec.close_unflushed
        out = codec.data_to_send()
        if out:
            self.outbound.record(out)
            self.queue.append(Own(out))
        check_outbound(self.name, codec, self.outbound, self.queue, stats, gave_up)


class Pair:
    def __init__(self) -> None:
        self.client = Side("client", H2ClientCodec())
        self.server = Side("server", H2ServerCodec())
        self.hpack_encoder = hpack.Encoder()
        self.hpack_decoder = hpack.Decoder()
        self.raw_encoder = hpack.Encoder()  # for raw HEADERS frames (its table is not the client's)
        self.statuses = StatusLedger()  # raw response heads by :status (fuzz/targets/h2_status.py)
        self.client.collect()
        self.server.collect()
        # An independent wire monitor judges each codec's frames against the SETTINGS the other
        # advertised (windows, frame size, concurrency, stream states: fuzz/peers/h2_wire.py).
        self.monitors = {
            "client": H2Monitor(judged_is_client=True, label="client codec"),
            "server": H2Monitor(judged_is_client=False, label="server codec"),
        }
        self.delivered = False

    def peer(self, side: Side) -> Side:
        return self.server if side is self.client else self.client

    # ------------------------------------------------------------------------------ delivery
    def deliver(self, sender: Side, data: bytes) -> None:
        receiver = self.peer(sender)
        self.delivered = True
        if not (self.client.tainted or self.server.tainted):  # only the codecs' own bytes are judged
            self.monitors[sender.name].judged(data)
            self.monitors[receiver.name].peer(data)
        # wants_close: the owner closes now (an outbound flood ends a codec without an event)
        was_live = not (receiver.conn_dead or receiver.closed_seen or receiver.codec.wants_close)
        stats = dict(receiver.codec.stats)
        # A dead codec takes no more input (receive_data returns nothing, counts nothing), so no
        # flood verdict can change: its reader is not fed what floods keep queueing towards it.
        longest = 0 if receiver.codec._dead else receiver.inbound.feed(data)
        try:
            events = receiver.codec.receive_data(data)
        except Exception as e:  # noqa: BLE001 - any exception out of input handling is the bug
            _fail("h2_input_raised", f"{receiver.name}.receive_data raised {type(e).__name__}: {e}")
        for ev in events:
            self.observe(receiver, ev)
        check_inbound(
            receiver.name,
            receiver.codec,
            receiver.inbound,
            longest,
            was_live,
            receiver.conn_dead,
            receiver.closed_seen,
            stats,
        )
        check_control_frame_floods(
            receiver.name,
            receiver.codec,
            receiver.inbound,
            receiver.outbound,
            was_live,
            receiver.conn_dead,
            receiver.closed_seen,
            stats,
        )
        receiver.collect()
        check_rapid_reset(receiver.name, receiver.codec, receiver.inbound, receiver.outbound, stats)
        check_rapid_reset_enforced(receiver.name, receiver.codec, receiver.inbound, receiver.outbound)

    def drain(self, sender: Side, fragments: int) -> None:
        for _ in range(min(fragments, len(sender.queue))):
            self.deliver(sender, sender.queue.pop(0))

    def drain_joined(self, sender: Side, fragments: int) -> None:
        """The next `fragments` writes arrive in one read (TCP coalesces them: a SETTINGS ACK and the
        frames the new SETTINGS allow, HEADERS and DATA, reach the receiver together)."""
        n = min(fragments, len(sender.queue))
        if n:
            joined = b"".join(sender.queue[:n])
            del sender.queue[:n]
            self.deliver(sender, joined)

    def drain_bytes(self, sender: Side, n: int) -> None:
        if sender.queue:
            head = sender.queue[0]
            piece, rest = head[:n], head[n:]
            if rest:
                sender.queue[0] = rest
            else:
                sender.queue.pop(0)
            self.deliver(sender, piece)

    def settle(self) -> None:
        """Deliver everything both ways, consuming all received body bytes, until quiet."""
        for _ in range(MAX_SETTLE_ROUNDS):
            for side in (self.client, self.server):
                for sid, got in side.got.items():
                    if got.unconsumed and not got.dead:
                        self.command(side, "consume", sid, got.unconsumed)
                        got.unconsumed = 0
                side.collect()
            if not self.client.queue and not self.server.queue:
                return
            self.drain(self.client, len(self.client.queue))
            self.drain(self.server, len(self.server.queue))

    # ------------------------------------------------------------------------------ commands
    def command(self, side: Side, name: str, *args, **kwargs):
        try:
            result = getattr(side.codec, name)(*args, **kwargs)
        except CodecUsageError as e:
            _fail("h2_command_refused", f"{side.name}.{name}{args!r}: {e}")
        except HeaderListTooLarge:
            # Over the peer's SETTINGS_MAX_HEADER_LIST_SIZE (fuzzer-injected SETTINGS): the codec sent
            # nothing and the stream is as it was (codec contract); the caller answers otherwise.
            return REFUSED
        side.collect()
        return result

    # ------------------------------------------------------------------------------ oracles
    def observe(self, side: Side, ev) -> None:
        side.events.append(ev)
        if side.conn_dead:
            _fail("h2_event_after_end", f"{side.name}: {ev!r} after a connection-level ProtocolViolation")
        sid = getattr(ev, "stream_id", None)
        if isinstance(ev, ProtocolViolation) and sid is None:
            side.conn_dead = True
            if not (self.client.tainted or self.server.tainted) and ev.code != CALM:
                # RFC 9113 5.4: what the other codec sends unaltered is valid HTTP/2; even a stream
                # over the advertised limit, sent before the SETTINGS arrived, is a stream error (5.1.2).
                # Flood defences (ENHANCE_YOUR_CALM) are policy, not a verdict on validity.
                _fail(
                    "h2_connection_error_on_valid_input",
                    f"{side.name} ended the connection over the other codec's own bytes: {ev.reason}",
                )
            return
        side.closed_seen |= isinstance(ev, ConnectionClosed)
        if isinstance(ev, ConnectionClosed) or sid is None:
            return
        got = side.got.get(sid)
        if side is self.client and isinstance(ev, (ResponseHeaders, InformationalResponse)):
            sent = self.server.sent.get(sid)
            codec_sent = sent is not None and (sent.head is not None or bool(sent.interim))
            self.statuses.check_delivered(sid, ev.status, codec_sent)
        if isinstance(ev, (RequestHeaders, ResponseHeaders)):
            if got is not None and (got.head is not None or got.dead):
                _fail("h2_event_order", f"{side.name}: second head or head after reset on stream {sid}: {ev!r}")
            got = side.got.setdefault(sid, Got())
            got.head, got.ended = ev, ev.end_stream
            self.check_head(side, sid, ev)
        elif isinstance(ev, InformationalResponse):
            got = side.got.setdefault(sid, Got())
            if got.head is not None or got.dead:
                _fail("h2_event_order", f"{side.name}: informational response after the final one on {sid}")
            got.interim.append(ev)
            self.check_interim(side, sid, ev)
        elif isinstance(ev, (Data, Trailers)):
            if got is None or got.head is None or got.ended or got.dead:
                _fail(
                    "h2_event_after_end" if got is not None and (got.ended or got.dead) else "h2_event_order",
                    f"{side.name}: {type(ev).__name__} on stream {sid} outside its open body: {ev!r}",
                )
            if isinstance(ev, Data):
                got.body += ev.data
                got.unconsumed += len(ev.data)
                got.ended = ev.end_stream
            else:
                got.trailers, got.ended = ev.headers, True
            self.check_body(side, sid, got)
        elif isinstance(ev, (StreamReset, ProtocolViolation)):
            if got is not None and got.dead:
                _fail("h2_event_after_end", f"{side.name}: {ev!r} after stream {sid} was reset")
            got = side.got.setdefault(sid, Got())
            got.dead, got.unconsumed = True, 0
            if isinstance(ev, ProtocolViolation) and side is self.server and not side.tainted:
                sent = self.client.sent.get(sid)
                if sent is not None and sent.head is not None:
                    _fail("h2_request_mismatch", f"server refused the client's valid request {sid}: {ev.reason}")

    def check_head(self, side: Side, sid: int, ev: RequestHeaders | ResponseHeaders) -> None:
        if side.tainted:
            return
        sent = self.peer(side).sent.get(sid)
        got: tuple  # the head as the receiver saw it; `want`, as the sender sent it
        if isinstance(ev, RequestHeaders):
            got = (ev.method, ev.target, ev.authority, ev.scheme, normalised(ev.headers))
            want = None if sent is None or sent.head is None else sent.head[:4] + (normalised(sent.head[4]),)
            if got != want:
                _fail("h2_request_mismatch", f"server saw request {sid} as {got!r}; the client sent {want!r}")
            # RFC 9110 10.1.1: the client may wait for a 100 before its body; the server's owner (the
            # connection manager) sends it only when the codec says so, as Envoy answers it for any protocol.
            assert sent is not None and sent.head is not None  # else want was None and the head mismatched
            expects = any(n.lower() == b"expect" and v.lower() == b"100-continue" for n, v in sent.head[4])
            if ev.expect_continue != (expects and not ev.end_stream):
                _fail(
                    "h2_expect_continue_lost",
                    f"server saw request {sid} with expect_continue={ev.expect_continue}; the client sent "
                    f"Expect: 100-continue: {expects}, its body to follow: {not ev.end_stream}",
                )
        else:
            got = (ev.status, normalised(ev.headers))
            want = None if sent is None or sent.head is None else (sent.head[0], normalised(sent.head[1]))
            if got != want:
                _fail("h2_response_mismatch", f"client saw response {sid} as {got!r}; the server sent {want!r}")
        assert sent is not None  # else want was None and the head mismatched
        if ev.end_stream and not sent.ended:
            _fail("h2_end_not_sent", f"{side.name} saw stream {sid} end with its headers; the sender did not end it")

    def check_interim(self, side: Side, sid: int, ev) -> None:
        if side.tainted:
            return
        sent = self.peer(side).sent.get(sid)
        got = (ev.status, normalised(ev.headers))
        n = len(side.got[sid].interim) - 1
        if sent is None or n >= len(sent.interim) or (sent.interim[n][0], normalised(sent.interim[n][1])) != got:
            _fail("h2_response_mismatch", f"client saw informational response {got!r} on {sid}, not sent")

    def check_body(self, side: Side, sid: int, got: Got) -> None:
        if side.tainted:
            return
        sent = self.peer(side).sent[sid]
        if not sent.body.startswith(got.body):
            _fail(
                "h2_data_mismatch",
                f"{side.name} stream {sid}: received {bytes(got.body)[:60]!r}, "
                f"not a prefix of the sent {bytes(sent.body)[:60]!r}",
            )
        if got.ended:
            if not sent.ended:
                _fail("h2_end_not_sent", f"{side.name} saw stream {sid} end; the sender did not end it")
            if got.body != sent.body:
                _fail(
                    "h2_data_mismatch",
                    f"{side.name} stream {sid} ended after {len(got.body)} of {len(sent.body)} bytes",
                )
            if got.trailers is not None and normalised(got.trailers) != normalised(sent.trailers or []):
                _fail(
                    "h2_data_mismatch", f"{side.name} stream {sid}: trailers {got.trailers!r}, sent {sent.trailers!r}"
                )


# ------------------------------------------------------------------------------------ decoding
def _value(fdp) -> bytes:
    raw = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 24))
    return bytes(c for c in raw if 0x21 <= c <= 0x7E or c == 0x20).strip(b" ")


def _fields(fdp, n_max: int = 4) -> list:
    out = []
    for _ in range(fdp.ConsumeIntInRange(0, n_max)):
        name = fdp.PickValueInList(NAMES)
        value = b"trailers" if name == b"te" else b"100-continue" if name == b"expect" else _value(fdp)
        if name == b"connection":
            value = fdp.PickValueInList([b"keep-alive", b"close", b"x-custom", b"keep-alive, x-custom"])
        out.append((name, value))
    return out


def _open(side: Side, want_headers: bool) -> list[int]:
    """Stream ids where this side may still send (headers received for a server, sent for a client)."""
    if side.name == "client":
        return [sid for sid, s in side.sent.items() if not s.ended and not s.reset]
    ids = [sid for sid, g in side.got.items() if isinstance(g.head, RequestHeaders) and not g.dead]
    return [
        sid
        for sid in ids
        if not side.sent.setdefault(sid, Sent()).ended
        and not side.sent[sid].reset
        and (side.sent[sid].head is None) == want_headers
    ]


def _pick(fdp, ids: list[int]) -> int | None:
    return fdp.PickValueInList(sorted(ids)) if ids else None


def act_new_stream(pair: Pair, fdp) -> None:
    c = pair.client
    if not c.codec.can_send_request():
        return
    head = (
        fdp.PickValueInList(METHODS),
        fdp.PickValueInList(PATHS),
        fdp.PickValueInList(AUTHORITIES),
        fdp.PickValueInList(SCHEMES),
        _fields(fdp),
    )
    end = fdp.ConsumeBool()
    sid = pair.command(c, "send_request_headers", head[0], head[1], head[2], head[4], end_stream=end, scheme=head[3])
    if sid is not REFUSED:  # refused: no stream was opened
        c.sent[sid] = Sent(head=head, ended=end)


def act_request_body(pair: Pair, fdp, trailers: bool) -> None:
    sid = _pick(fdp, _open(pair.client, want_headers=False))
    if sid is None:
        return
    _body(pair, pair.client, sid, fdp, trailers)


def _body(pair: Pair, side: Side, sid: int, fdp, trailers: bool) -> None:
    sent = side.sent[sid]
    if trailers:
        fields = [(n, v) for n, v in _fields(fdp) if n not in (b"te", b"connection")] or [(b"x-trailer", b"1")]
        if pair.command(side, "send_trailers", sid, fields) is REFUSED:
            _reset_refused(pair, side, sid)
            return
        # The codec drops what RFC 9110 6.5.1 keeps out of trailers (codec contract).
        sent.trailers, sent.ended = [(n, v) for n, v in fields if n not in TRAILER_FORBIDDEN], True
    else:
        data = _body_bytes(fdp)
        end = fdp.ConsumeBool()
        pair.command(side, "send_data", sid, data, end_stream=end)
        sent.body += data
        sent.ended = end


# Bodies of one send at the frame size limits (RFC 9113 4.2: SETTINGS_MAX_FRAME_SIZE, 16384 until the
# peer raises it; SETTINGS_CHOICES' sizes) and the default windows: a codec sends frames as large as
# its peer advertised, so only such bodies check that the receiver applies the size it advertised.
LARGE_BODIES = (16_384, 16_385, 20_000, 32_768, 65_535, 65_536, 65_537, 131_072)
_SMALL_BODY = 1792


def _body_bytes(fdp) -> bytes:
    """Up to _SMALL_BODY bytes of the input, or (an eighth of the length values) a LARGE_BODIES size
    made of a short pattern from the input, which an input of a few KB cannot spell out."""
    n = fdp.ConsumeIntInRange(0, 2048)
    if n <= _SMALL_BODY:
        return fdp.ConsumeBytes(n)
    size = LARGE_BODIES[n % len(LARGE_BODIES)]
    pattern = fdp.ConsumeBytes(8) or b"x"
    return (pattern * (size // len(pattern) + 1))[:size]


def act_response_headers(pair: Pair, fdp) -> None:
    s = pair.server
    sid = _pick(fdp, _open(s, want_headers=True))
    if sid is None:
        return
    status, fields = fdp.PickValueInList(STATUSES), _fields(fdp)
    sent = s.sent[sid]
    if status < 200:
        if pair.command(s, "send_headers", sid, status, fields) is not REFUSED:
            sent.interim.append((status, fields))
        return
    request = s.got[sid].head
    assert isinstance(request, RequestHeaders)  # _open picked a stream whose request head arrived
    end = fdp.ConsumeBool() or status == 204 or request.method == b"HEAD"
    if pair.command(s, "send_headers", sid, status, fields, end_stream=end) is REFUSED:
        _reset_refused(pair, s, sid)
        return
    sent.head, sent.ended = (status, fields), end


def act_response_body(pair: Pair, fdp, trailers: bool) -> None:
    s = pair.server
    ids = [sid for sid in _open(s, want_headers=False) if s.sent[sid].head is not None]
    sid = _pick(fdp, ids)
    if sid is not None:
        _body(pair, s, sid, fdp, trailers)


def _reset_refused(pair: Pair, side: Side, sid: int) -> None:
    """A section the peer would not accept was refused: end the stream the way an owner would."""
    pair.command(side, "reset_stream", sid)
    side.sent.setdefault(sid, Sent()).reset = True
    got = side.got.setdefault(sid, Got())
    got.dead, got.unconsumed = True, 0


def act_reset(pair: Pair, fdp) -> None:
    side = pair.client if fdp.ConsumeBool() else pair.server
    ids = (
        [sid for sid, s in side.sent.items() if not s.reset]
        if side is pair.client
        else [sid for sid, g in side.got.items() if g.head is not None and not g.dead]
    )
    sid = _pick(fdp, ids)
    if sid is not None:
        _reset_refused(pair, side, sid)  # our own reset: nothing more will be delivered for it


def act_consume(pair: Pair, fdp) -> None:
    side = pair.client if fdp.ConsumeBool() else pair.server
    sid = _pick(fdp, [sid for sid, g in side.got.items() if g.unconsumed and not g.dead])
    if sid is not None:
        n = fdp.ConsumeIntInRange(1, side.got[sid].unconsumed)
        pair.command(side, "consume", sid, n)
        side.got[sid].unconsumed -= n


def act_mutate(pair: Pair, fdp) -> None:
    sender = pair.client if fdp.ConsumeBool() else pair.server
    if not sender.queue:
        return
    i = fdp.ConsumeIntInRange(0, len(sender.queue) - 1)
    frag = bytearray(sender.queue[i])
    at = fdp.ConsumeIntInRange(0, len(frag) - 1)
    frag[at] ^= fdp.ConsumeIntInRange(1, 255)
    sender.queue[i] = bytes(frag)
    pair.peer(sender).tainted = True


def act_swap(pair: Pair, fdp) -> None:
    sender = pair.client if fdp.ConsumeBool() else pair.server
    if len(sender.queue) < 2:
        return
    i = fdp.ConsumeIntInRange(0, len(sender.queue) - 1)
    j = fdp.ConsumeIntInRange(0, len(sender.queue) - 1)
    if sender.queue[i] != sender.queue[j]:
        sender.queue[i], sender.queue[j] = sender.queue[j], sender.queue[i]
        pair.peer(sender).tainted = True


def act_drain(pair: Pair, fdp) -> None:
    sender = pair.client if fdp.ConsumeBool() else pair.server
    if fdp.ConsumeBool():
        n = fdp.ConsumeIntInRange(1, 8)
        (pair.drain_joined if n % 2 == 0 else pair.drain)(sender, n)
    else:
        pair.drain_bytes(sender, fdp.ConsumeIntInRange(1, 64))


def raw_frame(pair: Pair, fdp, sender: Side) -> bytes:
    """One frame built structurally with hyperframe (possibly invalid: ids, flags and sizes are fuzzed)."""
    kind = fdp.PickValueInList(FRAME_TYPES)
    sid = fdp.ConsumeIntInRange(0, 11)
    flags = {f for f in ("END_STREAM", "END_HEADERS", "PADDED", "PRIORITY", "ACK") if fdp.ConsumeBool()}
    f: hf.Frame
    server_head = kind == "headers" and sender is pair.server and sid > 0
    if server_head and fdp.ConsumeBool():
        # A whole response head whose :status may be a near miss of three digits.
        status = fdp.PickValueInList(RAW_STATUSES)
        f = hf.HeadersFrame(sid, data=response_block(status, _fields(fdp)))
        flags.add("END_HEADERS")
        pair.statuses.raw_head(sid, status)
    elif kind == "data":
        f = hf.DataFrame(sid, data=fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 512)))
    elif kind in ("headers", "continuation", "push_promise"):
        block = [
            (b":method", fdp.PickValueInList(METHODS)),
            (b":scheme", b"http"),
            (b":path", fdp.PickValueInList(PATHS)),
            (b":authority", fdp.PickValueInList(AUTHORITIES)),
        ][: fdp.ConsumeIntInRange(0, 4)] + _fields(fdp)
        encoded = (
            pair.raw_encoder.encode(block) if fdp.ConsumeBool() else fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
        )
        if server_head:
            pair.statuses.raw_head(sid, None)  # may decode to any head
        f = (
            hf.HeadersFrame(sid, data=encoded)
            if kind == "headers"
            else hf.ContinuationFrame(sid, data=encoded)
            if kind == "continuation"
            else hf.PushPromiseFrame(sid, promised_stream_id=fdp.ConsumeIntInRange(0, 12), data=encoded)
        )
    elif kind == "priority":
        f = hf.PriorityFrame(sid, depends_on=fdp.ConsumeIntInRange(0, 11), stream_weight=fdp.ConsumeIntInRange(0, 255))
    elif kind == "rst":
        f = hf.RstStreamFrame(sid, error_code=fdp.ConsumeIntInRange(0, 14))
    elif kind == "settings":
        f = hf.SettingsFrame(
            sid,
            settings={
                fdp.ConsumeIntInRange(1, 8): fdp.ConsumeIntInRange(0, 2**31 - 1)
                for _ in range(fdp.ConsumeIntInRange(0, 3))
            },
        )
    elif kind == "ping":
        f = hf.PingFrame(sid, opaque_data=fdp.ConsumeBytes(8).ljust(8, b"\0"))
    elif kind == "goaway":
        f = hf.GoAwayFrame(sid, last_stream_id=fdp.ConsumeIntInRange(0, 11), error_code=fdp.ConsumeIntInRange(0, 14))
    elif kind == "window_update":
        f = hf.WindowUpdateFrame(sid, window_increment=fdp.ConsumeIntInRange(0, 2**31 - 1))
    else:
        return bytes([0, 0, 3, fdp.ConsumeIntInRange(10, 255), 0, 0, 0, 0, sid]) + fdp.ConsumeBytes(3).ljust(3, b"\0")
    if "PADDED" in flags and isinstance(f, hf.Padding):  # DATA, HEADERS, PUSH_PROMISE
        f.pad_length = fdp.ConsumeIntInRange(0, 16)
    for name in flags & {flag.name for flag in f.defined_flags}:
        f.flags.add(name)
    return f.serialize()


def act_raw_frame(pair: Pair, fdp) -> None:
    sender = pair.client if fdp.ConsumeIntInRange(0, 3) else pair.server
    try:
        data = raw_frame(pair, fdp, sender)
    except (ValueError, hf.InvalidDataError if hasattr(hf, "InvalidDataError") else ValueError):
        return  # hyperframe refused to build it (e.g. an invalid stream id for the frame type)
    sender.queue.append(data)
    pair.peer(sender).tainted = True


def act_hpack_roundtrip(pair: Pair, fdp) -> None:
    if fdp.ConsumeIntInRange(0, 7) == 0:
        size = fdp.ConsumeIntInRange(0, pair.hpack_decoder.max_allowed_table_size)
        pair.hpack_encoder.header_table_size = size
    headers = []
    for _ in range(fdp.ConsumeIntInRange(0, 6)):
        name = (
            fdp.PickValueInList(NAMES + [b":path", b":authority"])
            if fdp.ConsumeBool()
            else fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 16)).lower()
        )
        headers.append(
            (
                name,
                fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64)),
            )
        )
    sensitive = [hpack.NeverIndexedHeaderTuple(n, v) if i % 3 == 2 else (n, v) for i, (n, v) in enumerate(headers)]
    block = pair.hpack_encoder.encode(sensitive, huffman=fdp.ConsumeBool())
    decoded = pair.hpack_decoder.decode(block, raw=True)
    if [(bytes(n), bytes(v)) for n, v in decoded] != headers:
        _fail("h2_hpack_roundtrip", f"encoded {headers!r}, decoded {decoded!r}")


# SETTINGS a codec may be configured with (bootstrap.proto Http2ProtocolOptions bounds), small ones first.
SETTINGS_CHOICES = dict(
    h2_max_concurrent_streams=(1, 2, 3, 100),
    h2_initial_window_size=(65_535, 65_536, 131_072, 1 << 20),
    h2_max_frame_size=(16_384, 16_385, 65_536, 16_777_215),
    max_header_bytes=(65_536, 16_384),
)


def act_settings(pair: Pair, fdp) -> None:
    """Before any byte was delivered, one side's codec is made anew with SETTINGS chosen from the input."""
    client = fdp.ConsumeBool()
    choice = fdp.ConsumeIntInRange(0, 255)
    side = pair.client if client else pair.server
    if pair.delivered or pair.client.sent or pair.server.sent:
        return
    picks, shift = {}, 0
    for name, values in SETTINGS_CHOICES.items():
        picks[name] = values[(choice >> shift) % len(values)]
        shift += 2
    codec = (H2ClientCodec if client else H2ServerCodec)(CodecLimits(**picks))
    fresh = Side(side.name, codec)
    fresh.tainted = side.tainted  # bytes already injected towards it still arrive
    fresh.collect()
    if client:
        pair.client = fresh
    else:
        pair.server = fresh


def act_goaway(pair: Pair, fdp) -> None:
    side = pair.server if fdp.ConsumeBool() else pair.client
    pair.command(side, "goaway")


def act_request_data(pair: Pair, fdp) -> None:
    act_request_body(pair, fdp, False)


ACTIONS = [
    act_new_stream,
    act_new_stream,
    act_request_data,
    lambda p, f: act_request_body(p, f, True),
    act_response_headers,
    lambda p, f: act_response_body(p, f, False),
    lambda p, f: act_response_body(p, f, True),
    act_reset,
    act_consume,
    act_mutate,
    act_swap,
    act_drain,
    act_drain,
    act_drain,
    act_raw_frame,
    act_hpack_roundtrip,
    act_goaway,
    act_flood,
    act_settings,
]


def run(data: bytes) -> Pair:
    """Decode and run the actions of one input, then settle both ways; returns the pair."""
    fdp = atheris.FuzzedDataProvider(data)
    pair = Pair()
    budget = Budget(MAX_ACTIONS, "h2 actions")
    while fdp.remaining_bytes() and budget.take():
        fdp_action = fdp.ConsumeIntInRange(0, len(ACTIONS) - 1)
        ACTIONS[fdp_action](pair, fdp)
    pair.settle()
    answer_owed(pair)
    check_liveness(pair)
    return pair


# ------------------------------------------------------------------------------ liveness
def answer_owed(pair: Pair) -> None:
    """The server answers what it owes: an empty 200 to every request it read whole and did not
    answer, the end of every response it started; then everything settles again."""
    s = pair.server
    if pair.client.conn_dead or s.conn_dead:
        return
    for sid in _open(s, want_headers=True):
        if s.got[sid].ended:
            pair.command(s, "send_headers", sid, 200, [], end_stream=True)
            s.sent[sid].head, s.sent[sid].ended = (200, []), True
    for sid in _open(s, want_headers=False):
        if s.got[sid].ended and s.sent[sid].head is not None:
            pair.command(s, "send_data", sid, b"", end_stream=True)
            s.sent[sid].ended = True
    pair.settle()


def check_liveness(pair: Pair) -> None:
    """After settling (everything delivered both ways, all body consumed): both codecs credited back
    every byte (fuzz/flow_control.py), no body waits for a window that is open, and, while only the
    codecs' own bytes flowed and nobody went away, every request the client finished has exactly one
    outcome it saw (a complete response or a reset)."""
    for side in (pair.client, pair.server):
        codec = side.codec
        if codec._dead:
            continue
        check_h2_windows(side.name, codec, consumed_all=True)
        for sid, st in codec._streams.items():
            if st.out_bytes and st.send is not Send.CLOSED and codec._conn.local_flow_control_window(sid) > 0:
                _fail(
                    "h2_outbound_stalled",
                    f"{side.name} stream {sid}: {st.out_bytes} bytes wait although "
                    f"the window is {codec._conn.local_flow_control_window(sid)}",
                )
    c, s = pair.client, pair.server
    if (
        c.tainted
        or s.tainted
        or c.conn_dead
        or s.conn_dead
        or c.codec._peer_last is not None
        or s.codec._draining
        or c.codec._draining
    ):
        return
    # RFC 9113 5.1.2: the server took every stream opened within the SETTINGS_MAX_CONCURRENT_STREAMS
    # it advertised (h2_wire_unearned_refused_stream, as for sessions' HTTP/2 clients).
    pair.monitors["server"].check_refusals()
    for sid, sent in c.sent.items():
        got = c.got.get(sid)
        if sent.ended and not sent.reset and (got is None or not (got.ended or got.dead)):
            _fail(
                "stall_request_without_outcome",
                f"client stream {sid}: the request ended and no response or reset came back ({got!r})",
            )


# ------------------------------------------------------------------------------ capture mode
def _stable(events: list) -> list:
    """Events with memory addresses in error reasons masked (hpack's messages embed a memoryview repr)."""
    return [
        replace(e, reason=_ADDRESS.sub("at 0x?", e.reason)) if isinstance(e, ProtocolViolation) else e for e in events
    ]


def frame_cuts(data: bytes) -> list[int]:
    """Cuts at each frame's start and at the end of its 9-byte header (after the preface): a frame
    header alone in one read and its payload in the next, where a reader of frame boundaries keeps
    its state across reads."""
    cuts: list[int] = []
    at = len(H2_PREFACE)
    while at < len(data):
        cuts += (at, at + 9)
        at += 9 + int.from_bytes(data[at : at + 3], "big")
    return cuts


def run_capture(data: bytes) -> list:
    """An input that starts with the client preface is a raw capture of what a client sent: it is
    fed to a server codec in one chunk and in an input-chosen split cut at every frame boundary
    besides; the events must agree (split invariance, as for HTTP/1.1) and obey the per-stream order
    rules."""
    from fuzz.targets.h1 import settled, splits  # split helpers are protocol-neutral

    runs = {}
    for name, chunks in splits(data, frame_cuts(data)).items():
        pair = Pair()
        pair.server.tainted = True  # the bytes are not the client codec's
        for chunk in chunks:
            pair.deliver(pair.client, chunk)
        runs[name] = settled(_stable(pair.server.events))
    (base_name, (expected, expected_partial)), *others = runs.items()
    for name, (got, partial) in others:
        if got != expected:
            at = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
            _fail(
                "h2_split_variance",
                f"{name} differs from {base_name} at event {at}: {got[at : at + 1]!r} vs {expected[at : at + 1]!r}",
            )
        for sid in set(partial) | set(expected_partial):
            a, b = partial.get(sid, b""), expected_partial.get(sid, b"")
            if not (a.startswith(b) or b.startswith(a)):
                _fail("h2_split_variance", f"{name}: stream {sid} data before its reset differs")
    return expected


def check(data: bytes) -> None:
    """The h2_codec harness: capture mode for inputs starting with the preface, else actions."""
    if data.startswith(H2_PREFACE):
        run_capture(data)
    else:
        run(data)
