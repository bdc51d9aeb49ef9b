"""Drivers and oracles for the HTTP/1.1 codec harnesses (h1_server, h1_client).

One input is a byte stream from the peer (requests for the server codec, the response to one
request for the client codec). `check_server(data)` / `check_client(data)` run it and raise
InvariantViolation when an oracle fails:

- h1_split_variance: one chunk and a split chosen by the input's own bytes, cut at every line ending
  besides, give the same events (bodies concatenated per stream) and the same bytes written back;
- h1_grammar_lenient: a message the codec accepted (head emitted, or body ended) is not accepted
  by the strict RFC 9112 reference (fuzz/targets/reference.py);
- h1_reference_mismatch: the reference accepts it but reads a different message (method, target,
  authority, fields, body, trailers, framing);
- h1_hop_by_hop_handed_on: the fields the codec hands on are not exactly the message's end-to-end
  fields (RFC 9110 7.6.1: a hop-by-hop field, one the Connection names, a TE other than `trailers`);
- h1_valid_request_refused / h1_valid_response_refused: the codec refused a message the reference
  accepts completely and that uses nothing a codec may refuse by policy (the reference's notes: e.g.
  more than the documented 100 fields);
- h1_request_dropped: a complete request after one that keeps the connection (HTTP/1.1, no close
  option: RFC 9112 9.3) got no event at all, though the codec refused nothing;
- h1_roundtrip_mismatch / h1_roundtrip_unsendable: an accepted message, serialised again through the
  opposite codec and parsed once more, is a different message, or cannot be serialised at all.
- h1_client_reused_after_close: the client codec would send another request on a connection its
  response ended (RFC 9112 9.3, 9.6: HTTP/1.0, a `close` option, or a body delimited by the close),
  where the reference says the connection does not persist.

Any other exception escaping the codec is a crash too: input must never raise.
"""

import re
from dataclasses import dataclass, field, replace
from typing import NoReturn

from fuzz.field_lists import connection_options
from fuzz.memo import Memo
from fuzz.oracles import InvariantViolation
from fuzz.peers.h1_stream import ResponseStream
from fuzz.targets import reference
from proxy.http.codec import (
    CodecUsageError,
    Data,
    InformationalResponse,
    ProtocolViolation,
    RequestHeaders,
    ResponseHeaders,
    StreamReset,
    Trailers,
)
from proxy.http.h1 import H1ClientCodec, H1ServerCodec

CLIENT_METHODS = (b"GET", b"HEAD")  # the client harness answers each input as the response to both
MAX_ROUNDS = 64  # answer/pending rounds per feed: each round needs a new request event to continue
# Round trips and response readings that passed, keyed by everything they judge (each a pure
# function of its key): the fuzzer's inputs share most messages and replies, judged once each.
_PASSED = Memo(4096, verdicts=True)


# ------------------------------------------------------------------------------------ splitting
MAX_PIECE = 23  # the input-chosen pieces are 1..MAX_PIECE bytes
_CR = re.compile(rb"\r")


def cr_cuts(data: bytes) -> list[int]:
    """A cut after every CR: a read ends inside every line ending (its LF starts the next read) and
    at every bare CR, wherever the parser is (start line, field, chunk-size line, the CRLF after chunk
    data, trailers). HTTP/1.1's parsers change state at line endings, and a CR at the end of a read
    is where a parser must remember what it owes."""
    return [m.end() for m in _CR.finditer(data)]


def splits(data: bytes, cuts: list[int] | None = None) -> dict[str, list[bytes]]:
    """The two feedings compared by split invariance: the input in one chunk, and the same bytes in
    pieces the input chooses: cut at each position in `cuts` (ascending; e.g. cr_cuts) and,
    between them, after 1 + data[i] % MAX_PIECE bytes taken from the piece's own first byte, so the
    fuzzer moves the cuts without a prefix real traffic lacks.

    No byte-at-a-time feeding: it cut everywhere at once, but at one read per byte it was most of
    the harness's time. The cuts given keep the boundaries where a parser's state changes (the
    planted h1-chunk-crlf-split-across-reads is one such); mutation moves the others."""
    chosen, i, k, n = [], 0, 0, len(data)
    marks = cuts or []
    while i < n:
        end = i + 1 + data[i] % MAX_PIECE
        while k < len(marks) and marks[k] <= i:
            k += 1
        if k < len(marks) and marks[k] < end:
            end = marks[k]
        chosen.append(data[i:end])
        i = end
    return {"one_chunk": [data] if data else [], "input_chosen": chosen}


def canonical(events: list) -> list:
    """Events with Data merged per stream up to the next non-Data event of that stream: what any
    split of the same bytes must give."""
    out: list = []
    open_data: dict[int, int] = {}  # stream id -> index in out of its pending merged Data
    for ev in events:
        if isinstance(ev, Data):
            at = open_data.get(ev.stream_id)
            if at is None:
                open_data[ev.stream_id] = len(out)
                out.append(ev)
            else:
                prev = out[at]
                out[at] = Data(ev.stream_id, prev.data + ev.data, ev.end_stream)
            if ev.end_stream:
                open_data.pop(ev.stream_id, None)
            continue
        sid = getattr(ev, "stream_id", None)
        if sid is None:
            open_data.clear()
        else:
            open_data.pop(sid, None)
        if isinstance(ev, ProtocolViolation) and ev.earlier_streams_live:
            # Whether earlier requests were still unanswered when the bad one came depends on when
            # the owner answered them (a split decides), not on the bytes; the replies are compared
            # as the bytes written back.
            ev = replace(ev, earlier_streams_live=False)
        out.append(ev)
    return [ev for ev in out if not (isinstance(ev, Data) and not ev.data and not ev.end_stream)]


# ------------------------------------------------------------------------------------ messages
@dataclass
class Seen:
    """One message as the codec delivered it."""

    head: RequestHeaders | ResponseHeaders | InformationalResponse
    body: bytearray = field(default_factory=bytearray)
    trailers: list | None = None
    ended: bool = False
    failed: bool = False

    def request(self) -> RequestHeaders:
        assert isinstance(self.head, RequestHeaders), "a server codec delivers only requests"
        return self.head

    def response(self) -> ResponseHeaders | InformationalResponse:
        assert not isinstance(self.head, RequestHeaders), "a client codec delivers only responses"
        return self.head


class Messages:
    """The messages a codec accepted, in order, and its protocol errors, read from its events as
    they come (a byte-at-a-time feeding asks after every read: re-reading all events each time was
    quadratic in them)."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.errors: list[ProtocolViolation] = []
        self._by_stream: dict[int, Seen] = {}

    def add(self, events: list) -> "Messages":
        by_stream = self._by_stream
        for ev in events:
            if isinstance(ev, (RequestHeaders, ResponseHeaders, InformationalResponse)):
                msg = Seen(ev, ended=isinstance(ev, InformationalResponse) or ev.end_stream)
                self.seen.append(msg)
                if not isinstance(ev, InformationalResponse):
                    by_stream[ev.stream_id] = msg
            elif isinstance(ev, (Data, Trailers)):
                open_msg = by_stream.get(ev.stream_id)
                if open_msg is None or open_msg.ended:
                    _fail("h1_event_order", f"{ev!r} on a stream with no open message")
                if isinstance(ev, Data):
                    open_msg.body += ev.data
                    open_msg.ended = ev.end_stream
                else:
                    open_msg.trailers, open_msg.ended = ev.headers, True
            elif isinstance(ev, (StreamReset, ProtocolViolation)):
                if isinstance(ev, ProtocolViolation):
                    self.errors.append(ev)
                if ev.stream_id in by_stream:
                    by_stream[ev.stream_id].failed = True
        return self


def messages(events: list) -> tuple[list[Seen], list[ProtocolViolation]]:
    """The messages the codec accepted, in order, and its protocol errors."""
    log = Messages().add(events)
    return log.seen, log.errors


def _fail(name: str, detail: str) -> NoReturn:
    raise InvariantViolation(name, detail)


# ---------------------------------------------------------------------------------- server side
def _respond(codec: H1ServerCodec, request: RequestHeaders) -> None:
    """A 200 for one request, framed by the stream id (every split answers alike): with a
    Content-Length, or, to HTTP/1.1, without one and the codec choosing the framing (an empty body,
    or "ok" chunked; a HEAD response gets the head a GET would get and no content)."""
    sid = request.stream_id
    if request.http_version != b"1.1" or sid % 3 == 0:
        codec.send_headers(sid, 200, [(b"content-length", b"0")], end_stream=True)
    elif sid % 3 == 1:
        codec.send_headers(sid, 200, [], end_stream=True)
    else:
        codec.send_headers(sid, 200, [], end_stream=False)
        codec.send_data(sid, b"ok", end_stream=True)


def _answer(codec: H1ServerCodec, events: list, log: Messages, fresh: list, answered: set) -> None:
    """Answer every complete request (_respond), so pipelining slots free up, and collect the
    requests that parses once they do (fresh: the events not yet in log, already in events)."""
    for _ in range(MAX_ROUNDS):
        log.add(fresh)
        todo = [m.request() for m in log.seen if m.ended and not m.failed and m.head.stream_id not in answered]
        if not todo:
            return
        for request in todo:
            answered.add(request.stream_id)
            _respond(codec, request)
        fresh = codec.pending_events()
        events += fresh
    _fail("h1_answer_rounds", f"more than {MAX_ROUNDS} rounds of answers and newly parsed requests")


def run_server(chunks: list[bytes]) -> tuple[list, bytes]:
    """Feed chunks then EOF to a fresh server codec; (events, every byte it wrote)."""
    codec = H1ServerCodec()
    events: list = []
    log = Messages()
    answered: set[int] = set()
    out = bytearray()
    for chunk in chunks + [b""]:
        fresh = codec.receive_data(chunk)
        if fresh:  # no new event, nothing new to answer (the last _answer left none open)
            events += fresh
            _answer(codec, events, log, fresh, answered)
        out += codec.data_to_send()
    return events, bytes(out)


def settled(events: list) -> tuple[list, dict[int, bytes]]:
    """canonical(events) without the body bytes of streams that end in an error or reset, and those
    bytes apart. A streaming codec delivers body bytes before it can see a later error in the same
    stream: how many depends on the split, so for such a stream the splits must only agree on a prefix."""
    dead = {ev.stream_id for ev in events if isinstance(ev, (ProtocolViolation, StreamReset)) and ev.stream_id}
    partial: dict[int, bytes] = {}
    for ev in events:
        if isinstance(ev, Data) and ev.stream_id in dead:
            partial[ev.stream_id] = partial.get(ev.stream_id, b"") + ev.data
    return canonical([ev for ev in events if not (isinstance(ev, Data) and ev.stream_id in dead)]), partial


def _check_split(runs: dict[str, tuple]) -> None:
    """Runs are (events, bytes written[, anything else the codec decided]), all compared."""
    (base_name, (base_events, base_out, *base_rest)), *others = runs.items()
    expected, expected_partial = settled(base_events)
    for name, (events, out, *rest) in others:
        if rest != base_rest:
            _fail("h1_split_variance", f"{name} decided {rest!r} after the same bytes, {base_name} {base_rest!r}")
        got, partial = settled(events)
        for sid in set(partial) | set(expected_partial):
            a, b = partial.get(sid, b""), expected_partial.get(sid, b"")
            if not (a.startswith(b) or b.startswith(a)):
                _fail(
                    "h1_split_variance",
                    f"{name}: stream {sid} delivered {a[:60]!r} before its error, "
                    f"{base_name} {b[:60]!r}: not one a prefix of the other",
                )
        if got != expected:
            at = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
            _fail(
                "h1_split_variance",
                f"{name} differs from {base_name} at event {at}: {got[at : at + 1]!r} vs {expected[at : at + 1]!r}",
            )
        if out != base_out:
            _fail("h1_split_variance", f"{name} wrote {len(out)} bytes, {base_name} {len(base_out)} (or other bytes)")


def _expect_request(r: reference.Message) -> tuple:
    method, target, _version = r.start
    hosts = r.values(b"host")
    if target.lower().startswith((b"http://", b"https://")):
        scheme, authority, path = reference.absolute_form_parts(target)
        return method, path, authority, scheme
    return method, target, hosts[0] if hosts else b"", b"http"


def _compare_body(kind: str, i: int, seen: Seen, r: reference.Message) -> None:
    if bytes(seen.body) != r.body:
        _fail("h1_reference_mismatch", f"{kind} {i + 1}: body {bytes(seen.body)[:60]!r} vs reference {r.body[:60]!r}")
    trailers = [(n.lower(), v) for n, v in (seen.trailers or [])]
    if trailers != r.trailers:
        _fail("h1_reference_mismatch", f"{kind} {i + 1}: trailers {trailers!r} vs reference {r.trailers!r}")


def _compare_fields(kind: str, i: int, headers: list, r: reference.Message) -> None:
    mine = reference.meaning_fields(headers)
    theirs = reference.meaning_fields(r.fields)
    if mine != theirs:
        _fail("h1_reference_mismatch", f"{kind} {i + 1}: fields {mine!r} vs reference {theirs!r}")
    _check_end_to_end_only(kind, i, headers, theirs)
    lengths = [v for n, v in headers if n == b"content-length"]
    if lengths != r.values(b"content-length"):
        _fail("h1_reference_mismatch", f"{kind} {i + 1}: content-length {lengths!r} vs {r.values(b'content-length')!r}")


# Fields a codec hands on beside the end-to-end ones: framing (the proxy frames the message anew)
# and the request's Host and Expect (carried as the authority and expect_continue, or kept in a
# response, where they mean nothing to the hop).
_OUTSIDE_THE_MEANING = (b"content-length", b"host", b"expect")


def _check_end_to_end_only(kind: str, i: int, headers: list, meaning: list) -> None:
    """RFC 9110 7.6.1: what a codec hands to the proxy to forward are the message's end-to-end fields;
    the hop-by-hop ones, those its Connection names, and TE but for `te: trailers` (10.1.4) stay with
    this hop. The comparison above reads the codec's fields through meaning_fields too, which would
    hide a hop-by-hop field the codec handed on (a TE forwarded whole, a keep-alive kept): here they
    are taken as handed, framing aside."""
    handed = [(n.lower(), v) for n, v in headers if n.lower() not in _OUTSIDE_THE_MEANING]
    if handed != meaning:
        _fail(
            "h1_hop_by_hop_handed_on",
            f"{kind} {i + 1}: the codec handed on {handed!r}, the message's end-to-end fields are {meaning!r}",
        )


def _check_accepted_against_reference(kind: str, seen: list[Seen], ref: list[reference.Message]) -> None:
    for i, msg in enumerate(seen):
        if i >= len(ref):
            _fail("h1_grammar_lenient", f"codec accepted {kind} {i + 1}, the reference finds only {len(ref)}")
        r = ref[i]
        if not r.head_ok:
            _fail("h1_grammar_lenient", f"codec accepted the head of {kind} {i + 1}; reference: {r.reason}")
        if msg.ended and r.state != "complete":
            _fail(
                "h1_grammar_lenient",
                f"codec accepted the whole of {kind} {i + 1}; reference: {r.reason or 'incomplete'}",
            )
        h = msg.head
        if isinstance(h, RequestHeaders):
            got = (h.method, h.target, h.authority, h.scheme)
            want = _expect_request(r)
            if got != want:
                _fail(
                    "h1_reference_mismatch",
                    f"{kind} {i + 1}: (method, target, authority, scheme) {got!r}, reference {want!r}",
                )
            has_body = (
                bool(r.values(b"transfer-encoding"))
                or int(r.values(b"content-length")[0] if r.values(b"content-length") else 0) > 0
            )
            if h.end_stream == has_body:
                _fail("h1_reference_mismatch", f"{kind} {i + 1}: end_stream={h.end_stream} but body={has_body}")
        elif h.status != int(r.start[1]):
            _fail("h1_reference_mismatch", f"{kind} {i + 1}: status {h.status}, reference {r.start[1]!r}")
        _compare_fields(kind, i, h.headers, r)
        if msg.ended:
            _compare_body(kind, i, msg, r)


def _check_refusals(
    seen: list[Seen], errors: list[ProtocolViolation], ref: list[reference.Message], kind: str = "request"
) -> None:
    for err in errors:
        i = len(seen) if err.stream_id is None else err.stream_id - 1
        if i < len(ref) and ref[i].state == "complete" and not ref[i].notes:
            _fail(
                f"h1_valid_{kind}_refused",
                f"{kind} {i + 1} is valid and plain but the codec refused it: {err.reason} ({err.status})",
            )


def _check_none_dropped(seen: list[Seen], errors: list[ProtocolViolation], ref: list[reference.Message]) -> None:
    """RFC 9112 9.3: a connection stays open after a request that does not end it, so the next complete
    request is read (answered or refused), never dropped. A refusal closes the connection: what
    follows it is rightly unread."""
    if errors:
        return
    for i, r in enumerate(ref[:MAX_ROUNDS]):
        if r.state != "complete":
            return
        if i >= len(seen):
            _fail(
                "h1_request_dropped",
                f"request {i + 1} is complete after requests that keep the connection, and the codec read "
                f"only {len(seen)} (no refusal)",
            )
        if reference.ends_connection(r):
            return


def _roundtrip_fields(headers: list) -> list:
    return [(n, v) for n, v in reference.meaning_fields(headers) if n != b"te"]  # the client never forwards te


def _send_request(client: H1ClientCodec, msg: Seen) -> bytes:
    h = msg.request()
    sid = client.send_request_headers(h.method, h.target, h.authority, h.headers, end_stream=h.end_stream)
    if not h.end_stream:
        client.send_data(sid, bytes(msg.body), end_stream=msg.trailers is None)
        if msg.trailers is not None:
            client.send_trailers(sid, msg.trailers)
    return client.data_to_send()


def _roundtrip_request(i: int, msg: Seen) -> None:
    h = msg.request()
    key = ("request", h.method, h.target, h.authority, tuple(h.headers), h.end_stream, bytes(msg.body), _tupled(msg))
    if _PASSED.get(key) is None:
        _judge_roundtrip_request(i, msg)
        _PASSED.put(key, True)


def _tupled(msg: Seen) -> tuple | None:
    return None if msg.trailers is None else tuple(msg.trailers)


def _judge_roundtrip_request(i: int, msg: Seen) -> None:
    h = msg.request()
    try:
        wire = _send_request(H1ClientCodec(), msg)
    except CodecUsageError as e:
        _fail(
            "h1_roundtrip_unsendable", f"request {i + 1} accepted by the server codec, refused by the client codec: {e}"
        )
    again, errors = messages(H1ServerCodec().receive_data(wire))
    if errors and any("fields_over_policy_limit" in r.notes for r in reference.parse_requests(wire)):
        return  # a head at the field limit, plus the framing field the client codec adds: over it by policy
    if errors or len(again) != 1 or not again[0].ended:
        _fail(
            "h1_roundtrip_mismatch",
            f"request {i + 1} re-serialised as {wire[:200]!r} parses as {len(again)} message(s), errors {errors!r}",
        )
    a, a_head = again[0], again[0].request()
    before = (
        h.method,
        h.target,
        h.authority,
        _roundtrip_fields(h.headers),
        bytes(msg.body),
        _roundtrip_fields(msg.trailers or []),
    )
    after = (
        a_head.method,
        a_head.target,
        a_head.authority,
        _roundtrip_fields(a_head.headers),
        bytes(a.body),
        _roundtrip_fields(a.trailers or []),
    )
    if before != after:
        _fail("h1_roundtrip_mismatch", f"request {i + 1}: {before!r} became {after!r}")


def check_server(data: bytes) -> list:
    """Every oracle of the h1_server harness on one input; returns the canonical events."""
    runs = {name: run_server(chunks) for name, chunks in splits(data, cr_cuts(data)).items()}
    _check_split(runs)
    events = runs["one_chunk"][0]
    seen, errors = messages(events)
    ref = reference.parse_requests(data, eof=True)
    _check_accepted_against_reference("request", seen, ref)
    _check_refusals(seen, errors, ref)
    _check_none_dropped(seen, errors, ref)
    for i, msg in enumerate(seen):
        if msg.ended and not msg.failed and msg.request().authority:
            _roundtrip_request(i, msg)
    _check_responses_readable(seen, runs["one_chunk"][1])
    _check_garbled_line_refused_before_eof(data)
    return canonical(events)


# A known defect (docs/semantics.md): the codec judges an absolute-form target's host with the whole
# head (parse_request_head), not with the line (check_request_line), so such a line waits.
ABSOLUTE_FORM_HOST_JUDGED_WITH_THE_HEAD = "absolute-form target without a valid host"


def _check_garbled_line_refused_before_eof(data: bytes) -> None:
    """A client may send a broken request-line and then neither end its head nor close (a scanner,
    a slowloris). No later byte can mend it, and Envoy's incremental parser refuses it where it ends,
    so the client gets its 400 at once; a codec waiting for the head's end holds the connection
    until the request headers timeout (the server-side twin of h1_client_garbled_head_awaited)."""
    reason = reference.unfinished_request_line_rejected(data)
    if reason is None or reason.startswith(ABSOLUTE_FORM_HOST_JUDGED_WITH_THE_HEAD):
        return
    codec = H1ServerCodec()
    events = codec.receive_data(data)
    # The codec parses at most max_pipelined_requests ahead (docs/semantics.md, HTTP/1.1 pipelining):
    # a line behind that many reaches it once their responses free the slots, so they are answered.
    _answer(codec, events, Messages(), list(events), set())
    if not any(isinstance(ev, ProtocolViolation) for ev in events):
        _fail(
            "h1_server_garbled_line_awaited",
            f"the request-line of {data[:120]!r} is whole and the reference rejects it ({reason}), "
            "but the server codec waits for the rest of the head",
        )


def _check_responses_readable(seen: list[Seen], out: bytes) -> None:
    """What the codec wrote reads, for a strict client that knows each request's method (RFC 9112 6.3:
    HEAD responses end with their head), as responses in request order with nothing stray between
    them: a byte too many after one response desynchronises every later one on the connection."""
    asked = tuple((m.request().method, b"1.0" if m.request().http_version == b"1.0" else b"1.1") for m in seen)
    key = ("responses", asked, out)
    if _PASSED.get(key) is not None:
        return
    stream = ResponseStream()
    for method, version in asked:
        stream.expect(method, version)
    if out:  # (empty bytes would be h11's end of stream)
        stream.feed(out, 0)
    if stream.error is not None:
        _fail("h1_responses_unreadable", f"the responses the codec wrote: {stream.error} ({out[:120]!r})")
    _PASSED.put(key, True)


# ---------------------------------------------------------------------------------- client side
def run_client(chunks: list[bytes], method: bytes) -> tuple[list, bytes, bool, bool]:
    """A fresh client codec sends one request, then reads chunks and EOF as its response; also
    whether it would have sent another request on the connection once the chunks were read, and
    whether it had refused them before the EOF."""
    codec = H1ClientCodec()
    codec.send_request_headers(method, b"/", b"upstream", [], end_stream=True)
    codec.data_to_send()
    events: list = []
    for chunk in chunks:
        events += codec.receive_data(chunk)
    reusable = codec.can_send_request()
    refused = any(isinstance(ev, ProtocolViolation) for ev in events)
    events += codec.receive_data(b"")
    return events, codec.data_to_send(), reusable, refused


def _check_garbled_head_refused_before_eof(data: bytes, method: bytes, refused: bool) -> None:
    """An upstream may send a broken line and then neither end its head nor close (a hung or
    hostile server). No later byte can mend a status-line or a field line that breaks the grammar,
    and Envoy's parser refuses it where it ends (balsa: the status line; http-parser: every byte),
    so the client gets a 503 UPE at once; a codec waiting for the head's end or the close holds the
    request until the route timeout (a 504)."""
    reason = None if refused else reference.unfinished_head_rejected(data, method)
    if reason is not None:
        _fail(
            "h1_client_garbled_head_awaited",
            f"the response head {data[:120]!r} to {method.decode()} has a whole line the reference rejects "
            f"({reason}), but the client codec waits for more",
        )


def _keeps_connection(data: bytes, method: bytes) -> bool:
    """The reference's persistence (RFC 9112 9.3): the bytes are one final response (1xx before it),
    complete without the connection's close and nothing after it, with no close option, from HTTP/1.1
    (or HTTP/1.0 with the keep-alive option, which a client may honour)."""
    ref = reference.parse_responses(data, method, eof=False)
    if not ref or any(m.state != "complete" for m in ref) or ref[-1].start[1].startswith(b"1"):
        return False
    final = ref[-1]
    tokens = connection_options(final.fields)
    return b"close" not in tokens and (final.version == b"HTTP/1.1" or b"keep-alive" in tokens)


def _check_reuse(data: bytes, method: bytes, reusable: bool) -> None:
    if reusable and not _keeps_connection(data, method):
        _fail(
            "h1_client_reused_after_close",
            f"after the response {data[:120]!r} to {method.decode()} the client codec takes another request on "
            "the connection, which the response ended (RFC 9112 9.6: a client MUST cease sending requests)",
        )


def _serve_response(method: bytes, seen: list[Seen]) -> bytes:
    """The accepted responses written again by a server codec answering the same request."""
    server = H1ServerCodec()
    [req] = server.receive_data(method + b" / HTTP/1.1\r\nhost: upstream\r\n\r\n")
    assert isinstance(req, RequestHeaders), "a plain GET or HEAD parses"
    sid = req.stream_id
    for msg in seen:
        h = msg.response()
        if isinstance(h, InformationalResponse):
            server.send_headers(sid, h.status, h.headers)
            continue
        server.send_headers(sid, h.status, h.headers, end_stream=h.end_stream)
        if not h.end_stream:
            server.send_data(sid, bytes(msg.body), end_stream=msg.trailers is None)
            if msg.trailers is not None:
                server.send_trailers(sid, msg.trailers)
    return server.data_to_send()


def _response_view(msg: Seen, method: bytes) -> tuple:
    h = msg.response()
    fields = [(n, v) for n, v in _roundtrip_fields(h.headers)]
    body_allowed = not isinstance(h, InformationalResponse) and method != b"HEAD" and h.status not in (204, 304)
    return (
        type(h).__name__,
        h.status,
        fields,
        bytes(msg.body) if body_allowed else b"",
        _roundtrip_fields(msg.trailers or []),
    )


def _roundtrip_response(method: bytes, seen: list[Seen]) -> None:
    key = (method, tuple(_response_key(m) for m in seen))
    if _PASSED.get(key) is None:
        _judge_roundtrip_response(method, seen)
        _PASSED.put(key, True)


def _response_key(msg: Seen) -> tuple:
    h = msg.response()
    end = h.end_stream if isinstance(h, ResponseHeaders) else None
    return (type(h).__name__, h.status, tuple(h.headers), end, bytes(msg.body), _tupled(msg))


def _judge_roundtrip_response(method: bytes, seen: list[Seen]) -> None:
    try:
        wire = _serve_response(method, seen)
    except CodecUsageError as e:
        _fail("h1_roundtrip_unsendable", f"response accepted by the client codec, refused by the server codec: {e}")
    again, errors = messages(run_client([wire], method)[0])
    if errors and any("fields_over_policy_limit" in r.notes for r in reference.parse_responses(wire, method)):
        return  # a head at the field limit, plus the framing field the server codec adds: over it by policy
    before = [_response_view(m, method) for m in seen]
    after = [_response_view(m, method) for m in again]
    if errors or before != after:
        _fail(
            "h1_roundtrip_mismatch",
            f"response re-serialised as {wire[:200]!r}: {before!r} became {after!r}, errors {errors!r}",
        )


def check_client(data: bytes) -> list:
    """Every oracle of the h1_client harness, for the input as the response to GET and to HEAD."""
    result = []
    feedings = splits(data, cr_cuts(data))
    for method in CLIENT_METHODS:
        runs = {name: run_client(chunks, method) for name, chunks in feedings.items()}
        _check_split(runs)
        _check_reuse(data, method, runs["one_chunk"][2])
        _check_garbled_head_refused_before_eof(data, method, runs["one_chunk"][3])
        events = runs["one_chunk"][0]
        seen, errors = messages(events)
        ref = reference.parse_responses(data, method, eof=True)
        _check_accepted_against_reference("response", seen, ref)
        if not any(m.start[1:2] and m.start[1].startswith(b"1") for m in ref):
            _check_refusals(seen, errors, ref, "response")  # with 1xx heads the indexes do not align
        if (
            seen
            and all(m.ended and not m.failed for m in seen)
            and not isinstance(seen[-1].head, InformationalResponse)
        ):
            _roundtrip_response(method, seen)
        result.append(canonical(events))
    return result
