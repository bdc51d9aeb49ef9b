"""HTTP/1.1 codecs on h11, with strict framing (see _h1_strict.py) and re-serialised heads.

Server: requests are parsed ahead of their responses (pipelining, up to
`limits.max_pipelined_requests`), responses go out in request order: a response sent for a later
request is queued until every earlier response is complete. Bad input is answered by the codec
itself with an error response in its place in that order (`connection: close`), then the
connection closes; no request event is emitted for a rejected head.

h11 parses every message: a fresh h11 connection per request (server) or per exchange (client)
is given exactly the bytes the strict layer checked, and its events must agree with that layer's
parse. A fresh connection per message is half the cost of cycling one (no throw-away response to
send before the next request can be parsed). Outgoing heads and bodies are serialised here from
fields that _check_outbound_fields already validated, with the framing rules h11's writer uses
(content-length, else chunked on HTTP/1.1, else close-delimited); the round-trip tests and the
fuzz oracles re-parse that output with h11.
"""

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus

import h11

from proxy.http._h1_state import (
    REQUEST,
    RESPONSE,
    UPSTREAM,
    Abort,
    Event as Ev,
    Operation,
    Request,
    Response,
    SendBody,
    SendHead,
    SendInformational,
    SendTrailers,
    Upstream,
)
from proxy.http._machine import Symbol
from proxy.http._h1_strict import (
    ChunkedScanner,
    FramingError,
    ResponseHeadLines,
    check_request_line,
    check_status_version,
    find_head,
    parse_request_head,
    parse_response_head,
)
from proxy.http.codec import (
    DEFAULT_LIMITS,
    ClientCodec,
    CodecLimits,
    CodecUsageError,
    ConnectionClosed,
    Data,
    Event,
    Headers,
    INVALID_RESPONSE,
    InformationalResponse,
    ProtocolViolation,
    RequestHeaders,
    ResponseHeaders,
    ServerCodec,
    StreamReset,
    Trailers,
    violation_code,
)
from proxy.http.headers import (
    asks_for_trailers,
    is_field_value,
    is_target,
    is_token,
    received_response_trailers,
    sendable_trailers,
    strip_hop_by_hop,
)

_NO_BODY_STATUSES = (204, 304)
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}


def _check_outbound_fields(headers: Headers) -> Headers:
    for name, value in headers:
        if not is_token(name):
            raise CodecUsageError(f"header name {name[:64]!r} is not a token")
        if not is_field_value(value) or value != value.strip(b" \t"):
            raise CodecUsageError(f"header {name[:64]!r} has an invalid value")
    return [(n, v) for n, v in strip_hop_by_hop(headers) if n not in (b"host", b"expect", b"te")]


def _te_trailers(headers: Headers) -> Headers:
    """A request asking for trailers keeps `te: trailers` (the proxy takes trailers for its client),
    with the `te` connection option RFC 9110 10.1.4 requires beside it."""
    if any(n.lower() == b"te" and asks_for_trailers(v) for n, v in headers):
        return [(b"te", b"trailers"), (b"connection", b"te")]
    return []


def _head(start_line: bytes, fields: Sequence[tuple[bytes, bytes]]) -> bytes:
    return start_line + b"".join([n + b": " + v + b"\r\n" for n, v in fields]) + b"\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


def _last_chunk(trailers: Sequence[tuple[bytes, bytes]]) -> bytes:
    return _head(b"0\r\n", trailers)


def _declared_length(headers: Headers) -> int | None:
    values = [v for n, v in headers if n == b"content-length"]
    if not values:
        return None
    if len(set(values)) != 1 or not values[0].isdigit():
        raise CodecUsageError("content-length must be one decimal number")
    return int(values[0])


def _split_target(target: bytes, host: bytes) -> tuple[bytes, bytes, bytes]:
    """(scheme, authority, origin-form target). Absolute-form carries its own authority."""
    lower = target[:8].lower()
    for scheme in (b"http", b"https"):
        prefix = scheme + b"://"
        if lower.startswith(prefix):
            rest = target[len(prefix) :]
            # RFC 3986 3.2: the authority ends at the first "/", "?" or "#"; an empty path is "/".
            end = min((i for i in map(rest.find, (b"/", b"?", b"#")) if i != -1), default=len(rest))
            path = rest[end:]
            return scheme, rest[:end], path if path.startswith(b"/") else b"/" + path
    return b"http", host, target


class _BodyReader:
    """Hands h11 the body bytes the strict layer has checked: content-length, chunked or until close."""

    def __init__(self, head, limits: CodecLimits, until_close: bool, response: bool = False) -> None:
        self.scanner = (
            ChunkedScanner(limits.max_chunk_line_bytes, limits.max_header_bytes, limits.max_headers, response)
            if head.chunked
            else None
        )
        self.remaining = head.content_length or 0
        self.until_close = until_close and not head.chunked and head.content_length is None

    def take(self, buf: bytearray) -> bytes:
        if self.scanner is not None:
            n = self.scanner.scan(buf, 0)
            if self.scanner.dropped:  # response trailer lines h11 is not to read
                for start, end in reversed(self.scanner.dropped):
                    del buf[start:end]
                    n -= end - start
                self.scanner.dropped.clear()
        elif self.until_close:
            n = len(buf)
        else:
            n = min(self.remaining, len(buf))
            self.remaining -= n
        piece = bytes(buf[:n])
        del buf[:n]
        return piece


def _drain_body(conn: h11.Connection, stream_id: int) -> tuple[list[Event], bool]:
    """Pull h11's events after body bytes were fed: one Data (coalesced), then the end if reached."""
    chunks: list[bytes] = []
    while True:
        ev = conn.next_event()
        if isinstance(ev, h11.Data):
            chunks.append(bytes(ev.data))
        elif isinstance(ev, h11.EndOfMessage):
            data = b"".join(chunks)
            if ev.headers:
                trailers = [(bytes(n), bytes(v)) for n, v in ev.headers]
                body: list[Event] = [Data(stream_id, data, False)] if data else []
                return body + [Trailers(stream_id, trailers)], True
            return [Data(stream_id, data, True)], True
        else:
            data = b"".join(chunks)
            return ([Data(stream_id, data, False)] if data else []), False


def _without_forbidden_trailers(events: list[Event]) -> list[Event]:
    """A response's trailers as headers.received_response_trailers keeps them (dropped, not refused)."""
    if not events or not isinstance(events[-1], Trailers):
        return events
    last = events[-1]
    kept = received_response_trailers(last.headers)
    if len(kept) == len(last.headers):
        return events
    return events[:-1] + [Trailers(last.stream_id, kept) if kept else Data(last.stream_id, b"", True)]


# ================================================================================== server side
# h11 events are immutable: the ones sent for every message are built (and validated) once.
_END = h11.EndOfMessage()


@dataclass
class _Exchange:
    """One request and its response; their states and transitions are in _h1_state.py."""

    stream_id: int
    method: bytes
    version: bytes  # b"1.0" / b"1.1"
    keep_alive: bool
    request: Symbol = Request.RECEIVING
    owner: Symbol = Response.IDLE  # the response as the owner sent it (checked when it calls)
    wire: Symbol = Response.IDLE  # the response as written: IDLE until its turn in line
    ops: list[Operation] = field(default_factory=list)  # queued until this exchange is first in line
    declared_length: int | None = None
    sent_length: int = 0
    out_chunked: bool = False
    close_after: bool = False  # the response is close-delimited or says connection: close
    body_allowed: bool = True

    @property
    def abandoned(self) -> bool:
        """The codec answered or dropped it (bad input, the client left, the owner reset it)."""
        return self.request is Request.BROKEN or self.owner is Response.RESET


class _Input:
    """The bytes received and not yet parsed, shared by both codecs."""

    def __init__(self, limits: CodecLimits) -> None:
        self._parser_size = limits.max_header_bytes + limits.max_chunk_line_bytes + 1024  # for h11
        self._max_head = limits.max_header_bytes
        self._in = bytearray()
        self._scanned = 0  # how far find_head has looked: byte-at-a-time input stays linear

    def _skip_empty_lines(self) -> bool:
        """RFC 9112 2.2: empty lines before a start line are ignored. True when some were removed."""
        skipped = False
        while self._in.startswith(b"\r\n"):
            del self._in[:2]
            skipped = True
        return skipped

    def _take_head(self) -> bytes | None:
        """The next complete head (checked for bare LF and size), removed from the input."""
        self._skip_empty_lines()
        end, self._scanned = find_head(self._in, self._scanned, self._max_head)
        if end is None:
            return None
        raw = bytes(self._in[:end])
        del self._in[:end]
        self._scanned = 0
        return raw


class H1ServerCodec(_Input, ServerCodec):
    def __init__(self, limits: CodecLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.stats: dict[str, int] = {}
        self.wants_close = False
        _Input.__init__(self, limits)
        self._reader: h11.Connection | None = None  # the current request's parser
        self._body: _BodyReader | None = None  # set while a request body is being read
        self._reading: _Exchange | None = None
        self._input_done = False  # no more requests will be parsed
        self._next_id = 1
        self._order: deque[_Exchange] = deque()
        self._streams: dict[int, _Exchange] = {}
        self._out = bytearray()
        self._draining = False  # goaway() called
        self._eof_seen = False
        self._pending: list[Event] = []  # requests parsed after a response freed a pipelining slot
        self._answered: set[int] = set()  # streams whose response is the codec's own error reply
        self._line_checked = False  # the next request's line was judged (_check_line_early)
        self._line_scan = 0  # how far the search for its end has looked

    # ------------------------------------------------------------------------------- input side
    def receive_data(self, data: bytes) -> list[Event]:
        events, self._pending = self._pending, []
        if not data:
            return events + self._eof()
        if self._input_done:
            return events
        self._in += data
        self._parse(events)
        return events

    def pending_events(self) -> list[Event]:
        events, self._pending = self._pending, []
        return events

    def _check_line_early(self) -> None:
        """Judge the request line once it is whole, before the head ends (check_request_line), and
        before anything else in the head, so every split of the input meets the same refusal."""
        if self._line_checked:
            return
        if self._skip_empty_lines():
            self._line_scan = 0
        lf = self._in.find(b"\n", self._line_scan, self._max_head)
        if lf < 0:  # still arriving: its start (a method, a target's first bytes) may be refused already
            self._line_scan = len(self._in)
            start = bytes(self._in[:64])
            check_request_line(start[:-1] if start.endswith(b"\r") else start, whole=False)
            return
        self._line_checked = True
        if lf and self._in[lf - 1] == 0x0D:
            check_request_line(bytes(self._in[: lf - 1]))
        else:  # a bare LF is find_head's to refuse, once what comes before it passed
            check_request_line(bytes(self._in[:lf]), whole=False)

    def _parse(self, events: list[Event]) -> None:
        try:
            while not self._input_done:
                if self._body is None:
                    if not self._read_head(events):
                        break
                elif not self._read_body(events):
                    break
        except FramingError as e:
            events.append(self._fail(e.reason, e.status))
        except h11.RemoteProtocolError as e:
            events.append(self._fail(f"h11 rejected the message: {e}", e.error_status_hint or 400))

    def _eof(self) -> list[Event]:
        if self._eof_seen:
            return []
        self._eof_seen = True
        self._input_done = True
        self._in.clear()
        events: list[Event] = []
        if self._reading is not None:
            self._reading.request = REQUEST.after(self._reading.request, Ev.FAIL, self._reading.stream_id)
            events.append(StreamReset(self._reading.stream_id, "peer closed before the request was complete"))
            self._reading = None
        events.append(ConnectionClosed("peer closed"))
        if not self._order:
            self.wants_close = True
        return events

    def _read_head(self, events: list[Event]) -> bool:
        limit = self.limits.max_pipelined_requests
        if len(self._order) >= limit and sum(1 for ex in self._order if ex.request is not Request.REJECTED) >= limit:
            return False  # parse ahead no further; the bytes wait in the buffer
        self._check_line_early()
        raw = self._take_head()
        if raw is None:
            return False
        self._line_checked, self._line_scan = False, 0
        head = parse_request_head(raw, self.limits.max_headers)
        self._reader = h11.Connection(h11.SERVER, max_incomplete_event_size=self._parser_size)
        self._reader.receive_data(raw)
        req = self._reader.next_event()
        method, target, version = head.start
        if not isinstance(req, h11.Request) or req.method != method or req.target != target:
            raise FramingError("request head parsed differently by h11")
        host = next((v for n, v in head.fields if n == b"host"), b"")
        conn_tokens = {t.strip().lower() for n, v in head.fields if n == b"connection" for t in v.split(b",")}
        keep_alive = version == b"HTTP/1.1" and b"close" not in conn_tokens
        ex = _Exchange(self._next_id, method, version[5:], keep_alive)
        self._next_id += 1
        self._streams[ex.stream_id] = ex
        self._order.append(ex)
        scheme, authority, path = _split_target(target, host)
        expect = version == b"HTTP/1.1" and any(n == b"expect" and v.lower() == b"100-continue" for n, v in head.fields)
        fields = [(n, v) for n, v in strip_hop_by_hop(head.fields) if n not in (b"host", b"expect")]
        has_body = head.chunked or bool(head.content_length)
        events.append(
            RequestHeaders(
                ex.stream_id,
                method,
                path,
                authority,
                scheme,
                fields,
                end_stream=not has_body,
                expect_continue=expect and has_body,
                http_version=ex.version,
            )
        )
        if has_body:
            self._body = _BodyReader(head, self.limits, until_close=False)
            self._reading = ex
        else:
            end_ev = self._reader.next_event()
            if not isinstance(end_ev, h11.EndOfMessage):
                raise FramingError("request without a body parsed differently by h11")
            self._request_complete(ex)
        return True

    def _read_body(self, events: list[Event]) -> bool:
        ex = self._reading
        assert ex is not None and self._body is not None and self._reader is not None
        try:
            piece = self._body.take(self._in)
        except FramingError as e:
            raise FramingError(e.reason, e.status) from None
        if not piece:
            return False
        self._reader.receive_data(piece)
        got, ended = _drain_body(self._reader, ex.stream_id)
        events.extend(got)
        if ended:
            self._body = None
            self._reading = None
            self._request_complete(ex)
        return True

    def _request_complete(self, ex: _Exchange) -> None:
        ex.request = REQUEST.after(ex.request, Ev.END, ex.stream_id)
        assert self._reader is not None, "a request is complete only once its head was parsed"
        # h11 agrees on keep-alive: the client is DONE (not MUST_CLOSE) after a request that keeps it.
        # An Upgrade offer (curl --http2's h2c, websocket) is never taken, as in Envoy without
        # upgrade_configs: the answer is HTTP/1.1, so h11's MIGHT_SWITCH_PROTOCOL ends like DONE.
        keep = self._reader.their_state in (h11.DONE, h11.MIGHT_SWITCH_PROTOCOL) and ex.keep_alive
        self._reader = None
        if not keep or self._draining:
            self._input_done = True  # the request asked for close (or HTTP/1.0): nothing after it counts
            self._in.clear()

    def _fail(self, reason: str, status: int) -> ProtocolViolation:
        """Bad input: stop parsing, put the error response in line, close after it."""
        self.stats["h1_protocol_error"] = self.stats.get("h1_protocol_error", 0) + 1
        self._input_done = True
        self._in.clear()
        h1_code = violation_code(status, None)  # the status chosen, whether or not it is still sent
        ex = self._reading
        self._reading = None
        self._body = None
        if ex is None:
            self._reply_and_close(status)
            return ProtocolViolation(
                reason, status=status, stream_id=None, earlier_streams_live=len(self._order) > 1, code=h1_code
            )
        ex.request = REQUEST.after(ex.request, Ev.FAIL, ex.stream_id)
        ex.keep_alive = False
        answered = ex.wire is Response.IDLE
        if answered:
            ex.ops = [SendHead(status, [(b"content-length", b"0")], True)]
            self._answered.add(ex.stream_id)
        elif ex.wire is not Response.DONE:
            self._close_now()  # half a response is on the wire: cutting the connection is all that's left
        self._flush()
        return ProtocolViolation(reason, status=status if answered else None, stream_id=ex.stream_id, code=h1_code)

    def answered_itself(self, stream_id: int) -> bool:
        return stream_id in self._answered

    @property
    def request_started(self) -> bool:
        """Bytes of a request whose head has not arrived whole are held (empty lines before a
        request line do not count, RFC 9112 2.2)."""
        return not self._input_done and self._body is None and any(c not in b"\r\n" for c in self._in[:8])

    def time_out_request(self) -> int | None:
        """Answer the request whose head is still arriving with a 408 in its place and close."""
        if not self.request_started:
            return None
        self._reply_and_close(408)
        return 408

    def _reply_and_close(self, status: int) -> None:
        """Stop reading and put an error response with no request of its own in line, then close."""
        self._input_done = True
        self._in.clear()
        ex = _Exchange(self._next_id, b"GET", b"1.1", keep_alive=False, request=Request.REJECTED)
        self._next_id += 1
        ex.ops = [SendHead(status, [(b"content-length", b"0")], True)]
        self._order.append(ex)
        self._flush()

    # ------------------------------------------------------------------------------ output side
    def _lookup(self, stream_id: int) -> _Exchange | None:
        ex = self._streams.get(stream_id)
        if ex is None:
            if 0 < stream_id < self._next_id:
                if self.wants_close:
                    return None
                raise CodecUsageError(f"stream {stream_id} is already complete")
            raise CodecUsageError(f"unknown stream {stream_id}")
        if ex.abandoned or self.wants_close:
            return None  # the codec already answered or the connection is going away: ignore
        return ex

    def send_headers(self, stream_id: int, status: int, headers: Headers, end_stream: bool = False) -> None:
        ex = self._lookup(stream_id)
        if ex is None:
            return
        informational = status < 200
        owner = RESPONSE.after(ex.owner, Ev.INFORMATIONAL if informational else Ev.HEADERS, stream_id, CodecUsageError)
        if not 100 <= status <= 999 or status == 101:
            raise CodecUsageError(f"invalid status {status}")
        fields = _check_outbound_fields(headers)
        if informational:
            if end_stream:
                raise CodecUsageError("an informational response cannot end the stream")
            ex.owner = owner
            ex.ops.append(SendInformational(status, fields))
        else:
            ex.owner = owner
            ex.body_allowed = status not in _NO_BODY_STATUSES and ex.method != b"HEAD"
            ex.declared_length = _declared_length(fields) if ex.body_allowed else None
            if end_stream:
                self._check_length(ex, 0, True)
                ex.owner = RESPONSE.after(owner, Ev.END, stream_id)
            ex.ops.append(SendHead(status, fields, end_stream))
        self._flush()

    def _check_length(self, ex: _Exchange, n: int, end: bool) -> None:
        if ex.declared_length is None or not ex.body_allowed:
            return
        if ex.sent_length + n > ex.declared_length or (end and ex.sent_length + n != ex.declared_length):
            raise CodecUsageError(f"stream {ex.stream_id}: body length does not match content-length")

    def _check_body_call(self, stream_id: int) -> _Exchange | None:
        ex = self._lookup(stream_id)
        if ex is None:
            return None
        RESPONSE.after(ex.owner, Ev.DATA, stream_id, CodecUsageError)  # the final head is sent, the body is open
        return ex

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        ex = self._check_body_call(stream_id)
        if ex is None:
            return
        self._check_length(ex, len(data), end_stream)
        ex.sent_length += len(data)
        if end_stream:
            ex.owner = RESPONSE.after(ex.owner, Ev.END, stream_id)
        ex.ops.append(SendBody(bytes(data), end_stream))
        self._flush()

    def send_trailers(self, stream_id: int, headers: Headers) -> None:
        ex = self._check_body_call(stream_id)
        if ex is None:
            return
        self._check_length(ex, 0, True)
        ex.owner = RESPONSE.after(ex.owner, Ev.END, stream_id)
        ex.ops.append(SendTrailers(sendable_trailers(_check_outbound_fields(headers))))
        self._flush()

    def reset_stream(self, stream_id: int, reason: str = "reset by owner") -> None:
        ex = self._lookup(stream_id)
        if ex is None:
            return
        # HTTP/1.1 has no stream reset: the connection ends where the stream's response would be.
        ex.owner = RESPONSE.after(ex.owner, Ev.RESET, stream_id)
        self.stats["h1_reset_by_owner"] = self.stats.get("h1_reset_by_owner", 0) + 1
        ex.ops.append(Abort())
        self._flush()

    def consume(self, stream_id: int, n: int) -> None:
        if n < 0:
            raise CodecUsageError("cannot consume a negative amount")

    def buffered_outbound(self, stream_id: int) -> int:
        """Response body bytes the owner sent for a pipelined request that wait, queued, until every
        earlier response is out: the connection manager pauses a stream holding too many, as it does
        for bytes an HTTP/2 client's window holds back."""
        ex = self._streams.get(stream_id)
        return sum(len(op.data) for op in ex.ops if isinstance(op, SendBody)) if ex is not None else 0

    def buffered_outbound_total(self) -> int:
        return sum(self.buffered_outbound(stream_id) for stream_id in self._streams)

    def goaway(self) -> None:
        # A request whose head is still arriving is in flight, as one whose body is (Envoy's HTTP/1
        # stream exists from its first byte): it is read and answered, with connection: close. Dropping
        # its bytes closed the connection under a client that had sent half its head when a drain began.
        head_pending = self.request_started
        self._draining = True
        if self._reading is None and not head_pending:
            self._input_done = True
            self._in.clear()
        if not self._order:
            self.wants_close = not head_pending
        elif not head_pending:
            self._order[-1].keep_alive = False
            self._flush()

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    # writer
    def _close_now(self) -> None:
        self.wants_close = True
        self._input_done = True
        self._in.clear()
        self._order.clear()
        self._streams.clear()

    def _flush(self) -> None:
        while self._order and not self.wants_close:
            ex = self._order[0]
            while ex.ops and not self.wants_close:
                self._run(ex, ex.ops.pop(0))
            if ex.wire is not Response.DONE or self.wants_close:
                return
            self._order.popleft()
            self._streams.pop(ex.stream_id, None)
            resume = not self._input_done and self._body is None and bool(self._in)
            if ex.close_after:
                self._close_now()
            elif self._input_done and not self._order and self._reading is None:
                self.wants_close = True  # nothing more will come: the peer closed or we are draining
            if resume and not self.wants_close:
                self._parse(self._pending)  # a pipelining slot opened: parse what is buffered

    def _run(self, ex: _Exchange, op: Operation) -> None:
        # Class patterns without captures: reading the fields as attributes costs half as much.
        match op:
            case SendHead():
                ex.wire = RESPONSE.after(ex.wire, Ev.HEADERS, ex.stream_id)
                self._out += _head(
                    b"HTTP/1.1 %d %s\r\n" % (op.status, _REASONS.get(op.status, b"")),
                    self._response_fields(ex, op.status, op.fields, op.end),
                )
                if op.end:
                    self._end(ex)
            case SendBody():
                ex.wire = RESPONSE.after(ex.wire, Ev.DATA, ex.stream_id)
                if op.data and ex.body_allowed:
                    self._out += _chunk(op.data) if ex.out_chunked else op.data
                if op.end:
                    self._end(ex)
            case SendTrailers():
                self._end(ex, op.fields)
            case SendInformational():
                ex.wire = RESPONSE.after(ex.wire, Ev.INFORMATIONAL, ex.stream_id)
                if ex.version == b"1.1":  # RFC 9110 15.2: never a 1xx to an HTTP/1.0 client
                    self._out += _head(b"HTTP/1.1 %d %s\r\n" % (op.status, _REASONS.get(op.status, b"")), op.fields)
            case Abort():
                ex.wire = RESPONSE.after(ex.wire, Ev.RESET, ex.stream_id)
                self.close_cuts_response = True
                self._close_now()

    def _response_fields(self, ex: _Exchange, status: int, fields: Headers, end: bool) -> Headers:
        """The response's framing, chosen as h11's writer does (RFC 9112 6.3)."""
        fields = list(fields)
        has_length = any(n == b"content-length" for n, _ in fields)
        if ex.body_allowed and not has_length and end:
            fields.append((b"content-length", b"0"))
            has_length = True
        close = (
            ex.request is not Request.DONE
            or not ex.keep_alive
            or (self._draining and ex is self._order[-1] and not self.request_started)
        )
        # An early response (request still arriving) ends the connection: the rest of the request
        # body would otherwise be parsed as a new request.
        if not has_length and status not in _NO_BODY_STATUSES:
            if ex.version == b"1.1":
                fields.append((b"transfer-encoding", b"chunked"))  # HEAD too: the header GET would get
                ex.out_chunked = ex.body_allowed
            elif ex.method != b"HEAD":
                close = True  # HTTP/1.0 without a length: the body ends when the connection does
        if close:
            fields.append((b"connection", b"close"))
            ex.close_after = True
        return fields

    def _end(self, ex: _Exchange, trailers: Sequence[tuple[bytes, bytes]] = ()) -> None:
        ex.wire = RESPONSE.after(ex.wire, Ev.END, ex.stream_id)
        if ex.out_chunked:
            self._out += _last_chunk(trailers)
        if ex.request is not Request.DONE:
            self._close_now()


# ================================================================================== client side
_GET_PROBE = h11.Request(method=b"GET", target=b"/", headers=[(b"host", b"upstream")])
_HEAD_PROBE = h11.Request(method=b"HEAD", target=b"/", headers=[(b"host", b"upstream")])


class H1ClientCodec(_Input, ClientCodec):
    """One request at a time on a keep-alive connection (no pipelining upstream)."""

    def __init__(self, limits: CodecLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.stats: dict[str, int] = {}
        self.wants_close = False
        _Input.__init__(self, limits)
        self._h11: h11.Connection | None = None  # the current exchange's parser (_expect_response)
        self._out = bytearray()
        self._next_id = 1
        self._sid: int | None = None  # the exchange in flight
        self._method = b""
        self._phase: Symbol = Upstream.IDLE  # the exchange in flight, by its response (_h1_state)
        self._body: _BodyReader | None = None
        self._request_ended = False
        self._chunked = False  # the request body goes out chunked
        self._declared: int | None = None
        self._sent = 0
        self._dead = False
        self._draining = False
        self._head_lines = ResponseHeadLines(limits.max_headers, limits.max_header_bytes)  # judged as they arrive

    def can_send_request(self) -> bool:
        return self._phase is Upstream.IDLE and not self.wants_close and not self._dead

    def send_request_headers(
        self,
        method: bytes,
        target: bytes,
        authority: bytes,
        headers: Headers,
        end_stream: bool = False,
        scheme: bytes = b"http",
    ) -> int:
        if not self.can_send_request():
            raise CodecUsageError("connection is busy or closing: check can_send_request()")
        if not is_token(method) or method == b"CONNECT":
            raise CodecUsageError(f"invalid method {method[:32]!r}")
        if not is_target(target):
            raise CodecUsageError("invalid request target")
        if not is_target(authority):
            raise CodecUsageError("invalid authority")
        fields = _check_outbound_fields(headers) + _te_trailers(headers)
        self._declared = _declared_length(fields)
        names = {n for n, _ in fields}
        self._chunked = False
        if b"content-length" not in names:
            if not end_stream:
                fields.append((b"transfer-encoding", b"chunked"))
                self._chunked = True
            elif method in (b"POST", b"PUT", b"PATCH"):
                fields.append((b"content-length", b"0"))
                self._declared = 0
        elif end_stream and self._declared != 0:
            raise CodecUsageError("request ended with content-length > 0 and no body")
        self._sid = self._next_id
        self._next_id += 1
        self._method = method
        self._sent = 0
        self._request_ended = end_stream
        self._out += _head(method + b" " + target + b" HTTP/1.1\r\n", [(b"host", authority)] + fields)
        if end_stream and self._chunked:
            self._out += _last_chunk(())
        self._expect_response(method)
        self._phase = UPSTREAM.after(self._phase, Ev.REQUEST, self._sid)
        return self._sid

    def _current(self, stream_id: int) -> bool:
        if self._sid is None or stream_id != self._sid:
            if 0 < stream_id < self._next_id:
                return False  # an earlier exchange: finished or reset; ignore
            raise CodecUsageError(f"unknown stream {stream_id}")
        if self._dead or self.wants_close:
            return False
        return True

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        if not self._current(stream_id):
            return
        if self._request_ended:
            raise CodecUsageError(f"stream {stream_id}: request already ended")
        if self._declared is not None and (
            self._sent + len(data) > self._declared or (end_stream and self._sent + len(data) != self._declared)
        ):
            raise CodecUsageError(f"stream {stream_id}: body length does not match content-length")
        self._sent += len(data)
        if data:
            self._out += _chunk(bytes(data)) if self._chunked else data
        if end_stream:
            self._end_request([])

    def send_trailers(self, stream_id: int, headers: Headers) -> None:
        if not self._current(stream_id):
            return
        if self._request_ended:
            raise CodecUsageError(f"stream {stream_id}: request already ended")
        if self._declared is not None and self._sent != self._declared:
            raise CodecUsageError(f"stream {stream_id}: body length does not match content-length")
        self._end_request(sendable_trailers(_check_outbound_fields(headers)) if self._declared is None else [])

    def _expect_response(self, method: bytes) -> None:
        """A fresh h11 parser for this exchange's response. It is shown a stand-in request: only the
        method changes how a response is framed (HEAD), and the real one was serialised above."""
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=self._parser_size)
        self._h11.send(_HEAD_PROBE if method == b"HEAD" else _GET_PROBE)
        self._h11.send(_END)

    def _end_request(self, trailers: Headers) -> None:
        if self._chunked:
            self._out += _last_chunk(trailers)
        self._request_ended = True
        if self._phase is Upstream.DONE:
            self._cycle()

    def reset_stream(self, stream_id: int, reason: str = "reset by owner") -> None:
        if self._current(stream_id):
            self.stats["h1_reset_by_owner"] = self.stats.get("h1_reset_by_owner", 0) + 1
            self._dead = True
            self.wants_close = True

    def consume(self, stream_id: int, n: int) -> None:
        if n < 0:
            raise CodecUsageError("cannot consume a negative amount")

    def goaway(self) -> None:
        self._draining = True
        if self._phase is Upstream.IDLE:
            self.wants_close = True
            self._dead = True

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def pending_events(self) -> list[Event]:
        return []

    # input
    def receive_data(self, data: bytes) -> list[Event]:
        if self._dead:
            return []
        if not data:
            return self._eof()
        self._in += data
        events: list[Event] = []
        try:
            while self._in and not self._dead:
                if self._phase is Upstream.IDLE or self._phase is Upstream.DONE:
                    raise FramingError("response bytes with no request outstanding", 502)
                if self._phase is Upstream.HEAD:
                    if not self._read_head(events):
                        break
                elif not self._read_body(events):
                    break
        except FramingError as e:
            events.append(self._fail(e.reason))
        except h11.RemoteProtocolError as e:
            events.append(self._fail(f"h11 rejected the response: {e}"))
        return events

    def _fail(self, reason: str) -> ProtocolViolation:
        self.stats["h1_protocol_error"] = self.stats.get("h1_protocol_error", 0) + 1
        self._dead = True
        self.wants_close = True
        self._in.clear()
        return ProtocolViolation(
            reason,
            status=502,
            stream_id=self._sid if self._phase is Upstream.HEAD or self._phase is Upstream.BODY else None,
            code=INVALID_RESPONSE,
        )

    def _eof(self) -> list[Event]:
        events: list[Event] = []
        if self._phase is Upstream.BODY and self._body is not None and self._body.until_close:
            parser, sid = self._in_flight()
            parser.receive_data(b"")
            got, _ended = _drain_body(parser, sid)
            events.extend(got)
            self._phase = UPSTREAM.after(self._phase, Ev.END, sid)
        elif self._phase is Upstream.HEAD or self._phase is Upstream.BODY:
            events.append(StreamReset(self._in_flight()[1], "upstream closed before the response was complete"))
        self._dead = True
        self.wants_close = True
        events.append(ConnectionClosed("upstream closed"))
        return events

    def _read_head(self, events: list[Event]) -> bool:
        self._skip_empty_lines()
        start = bytes(self._in[:9])
        if start and start != b"\r":
            check_status_version(start)
        self._head_lines.judge(self._in)
        raw = self._take_head()
        if raw is None:
            return False
        self._head_lines.restart()
        parser, sid = self._in_flight()
        head = parse_response_head(raw, self.limits.max_headers)
        status = int(head.start[1])
        if status == 101:
            raise FramingError("101 Switching Protocols was not asked for", 502)
        parser.receive_data(raw)
        ev = parser.next_event()
        if not isinstance(ev, (h11.Response, h11.InformationalResponse)) or ev.status_code != status:
            raise FramingError("status line parsed differently by h11", 502)
        fields = [(n, v) for n, v in strip_hop_by_hop(head.fields)]
        if status < 200 or status == 204:
            # RFC 9110 8.6, RFC 9112 6.1: a 1xx or 204 has no body, so no framing fields. Envoy
            # (require_strict_1xx_and_204_response_headers): Transfer-Encoding or a non-zero
            # Content-Length is a protocol error (the bytes after the head would be misread), a zero
            # Content-Length is dropped.
            if any(n == b"transfer-encoding" for n, _ in head.fields) or head.content_length:
                raise FramingError(f"{status} response with a message body length", 502)
            fields = [(n, v) for n, v in fields if n != b"content-length"]
        if status < 200:
            events.append(InformationalResponse(sid, status, fields))
            return True
        no_body = self._method == b"HEAD" or status in _NO_BODY_STATUSES
        if no_body or (head.content_length == 0 and not head.chunked):
            end_ev = parser.next_event()
            if not isinstance(end_ev, h11.EndOfMessage):
                raise FramingError("bodiless response parsed differently by h11", 502)
            events.append(ResponseHeaders(sid, status, fields, True, http_version=head.start[0][5:]))
            self._response_complete()
            return True
        events.append(ResponseHeaders(sid, status, fields, False, http_version=head.start[0][5:]))
        self._body = _BodyReader(head, self.limits, until_close=True, response=True)
        self._phase = UPSTREAM.after(self._phase, Ev.HEADERS, sid)
        return True

    def _read_body(self, events: list[Event]) -> bool:
        assert self._body is not None, "phase body reads a body"
        piece = self._body.take(self._in)
        if not piece:
            return False
        parser, sid = self._in_flight()
        parser.receive_data(piece)
        got, ended = _drain_body(parser, sid)
        events.extend(_without_forbidden_trailers(got))
        if ended:
            self._response_complete()
        return True

    def _response_complete(self) -> None:
        self._body = None
        self._phase = UPSTREAM.after(self._phase, Ev.END, self._sid or 0)
        if self._request_ended:
            self._cycle()

    def _in_flight(self) -> tuple[h11.Connection, int]:
        """The response parser and stream id of the exchange in flight (phase head, body or done)."""
        assert self._h11 is not None and self._sid is not None, f"no exchange in flight (phase {self._phase})"
        return self._h11, self._sid

    def _cycle(self) -> None:
        if self._in_flight()[0].their_state is h11.DONE and not self._draining:  # h11: the response kept it alive
            self._phase = UPSTREAM.after(self._phase, Ev.REUSE, self._sid or 0)
        else:
            self.wants_close = True
            self._dead = True


# ============================================================================ the rules in front of h11
class RequestGate(_Input):
    """H1ServerCodec's request framing rules (_h1_strict.py) in front of a server that parses
    requests with h11 itself (the admin, proxy/admin.py).

    h11 alone reads what RFC 9112 lets a recipient refuse and what proxies get smuggled by: bare LF,
    obs-fold, Content-Length beside Transfer-Encoding (without the close RFC 9112 6.1 then
    requires), Transfer-Encoding in HTTP/1.0, a Host list. A front proxy that frames such bytes
    otherwise hands that server a request it never saw. Envoy's admin runs on the codec of its
    listeners, so it refuses what they refuse. The server `add`s what it reads and `take`s the
    checked bytes when its parser wants more: one request's head, then its body (content-length
    or chunked, scanned) as it arrives, so pipelined requests are judged one at a time, as they
    are parsed. At the first refusal it stops for good, and `refused` says why, with the status
    H1ServerCodec answers (400, 431, 505)."""

    def __init__(self, limits: CodecLimits = DEFAULT_LIMITS) -> None:
        _Input.__init__(self, limits)
        self._limits = limits
        self._body: _BodyReader | None = None  # the body of the request whose head was taken
        self.refused: FramingError | None = None

    @property
    def holding(self) -> bool:
        """Bytes read and not yet taken: a request still arriving, or pipelined ones waiting."""
        return bool(self._in)

    def add(self, data: bytes) -> None:
        if self.refused is None:
            self._in += data

    def take(self) -> bytes:
        """The checked bytes that come next: the next request's head and what is here of its body,
        or more of the body under way; b"" when nothing more is whole, or after a refusal."""
        if self.refused is not None:
            return b""
        out = bytearray()
        try:
            if self._body is None:
                raw = self._take_head()
                if raw is None:
                    return b""
                head = parse_request_head(raw, self._limits.max_headers)
                out += raw
                self._body = _BodyReader(head, self._limits, until_close=False)
            body = self._body
            out += body.take(self._in)
            if body.scanner.done if body.scanner is not None else body.remaining == 0:
                self._body = None
        except FramingError as exc:
            self.refused = exc
            self._in.clear()
        return bytes(out)

    def rest(self) -> bytes:
        """What is held when the client ends its side: the start of a request no rule refused yet,
        for the parser to find unfinished."""
        held = b"" if self.refused is not None else bytes(self._in)
        self._in.clear()
        return held
