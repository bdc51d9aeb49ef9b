"""The per-stream HTTP filter manager: iteration over one request's filters by the rules of filter.py.

One FilterChain per stream. It drives two directions over the same filter instances: decoding
(configuration order, ends at the router) and encoding (reverse order, ends at the stream's
`sink`, which writes to the downstream codec). Each filter has its own entry per direction
holding what it stopped: its headers, its buffered bytes, its trailers.

The `stream` object (the connection manager's ActiveStream) provides:
  sink:      write_headers(head, end_stream), write_data(bytes, end_stream), write_trailers(map),
             reset(reason, flag), response_started (headers are on their way downstream),
             note_local_reply(status, flags)
  services:  route(), connection, dispatcher, ctx, stream_info, stream_id, buffer_limit,
             disable_reads(bool)
"""

from http import HTTPStatus

from ..buffer import Buffer
from ..context import ServerContext
from ..event import Dispatcher
from ..network.connection import Connection
from .filter import (
    CONTINUE,
    DATA_STATUSES,
    HEADERS_STATUSES,
    STOP_ALL_ITERATION,
    STOP_ITERATION_AND_BUFFER,
    TRAILERS_STATUSES,
    HttpFilterContractError,
)
from .message import HeaderMap, RequestHead, ResponseHead
from .route import Route


class _Entry:
    """One filter's iteration state in one direction."""

    __slots__ = (
        "filter",
        "index",
        "headers_continued",
        "stopped",
        "stop_all",
        "buffer",
        "held_end",
        "held_trailers",
        "in_callback",
        "holding_back",
    )

    def __init__(self, filter_, index: int) -> None:
        self.filter = filter_
        self.index = index
        self.headers_continued = False
        self.stopped = False
        self.stop_all = False
        self.buffer = Buffer()
        self.held_end = False
        self.held_trailers = None
        self.in_callback = False
        self.holding_back = False  # a STOP_ALL_ITERATION hold over the buffer limit paused its source


class _Direction:
    """Decoding or encoding: the iteration rules, shared by both."""

    def __init__(self, chain: "FilterChain", filters, decoding: bool) -> None:
        self.chain = chain
        self.decoding = decoding
        self.entries = [_Entry(f, i) for i, f in enumerate(filters)]
        self.head: ResponseHead | RequestHead | None = None
        self.headers_end = False
        self.names = (
            ("decode_headers", "decode_data", "decode_trailers")
            if decoding
            else ("encode_headers", "encode_data", "encode_trailers")
        )

    @property
    def live(self) -> bool:
        chain = self.chain
        if chain.ended:
            return False
        return not chain.decoding_stopped if self.decoding else not chain.encoding_stopped

    def buffered(self) -> int:
        return sum(len(e.buffer) for e in self.entries)

    def _call(self, entry: _Entry, kind: int, *args):
        entry.in_callback = True
        try:
            status = getattr(entry.filter, self.names[kind])(*args)
        finally:
            entry.in_callback = False
        allowed = (HEADERS_STATUSES, DATA_STATUSES, TRAILERS_STATUSES)[kind]
        if status not in allowed:
            raise HttpFilterContractError(
                f"{type(entry.filter).__name__}.{self.names[kind]} returned {status!r}; "
                f"allowed: {sorted(s.name for s in allowed)}"
            )
        return status

    # -- the three kinds of frames ---------------------------------------------------------------
    def headers(self, start: int) -> None:
        for entry in self.entries[start:]:
            if not self.live:
                return
            status = self._call(entry, 0, self.head, self.headers_end)
            if not self.live:
                return
            if status is CONTINUE:
                entry.headers_continued = True
                continue
            entry.stopped = True
            entry.stop_all = status is STOP_ALL_ITERATION
            return
        if self.live and not self.decoding:
            self.chain.stream.write_headers(self.head, self.headers_end)

    def data(self, start: int, buf: Buffer, end: bool) -> None:
        for entry in self.entries[start:]:
            if not self.live:
                return
            if entry.stop_all:
                self._hold(entry, buf, end)
                return
            status = self._call(entry, 1, buf, end)
            if not self.live:
                return
            if status is CONTINUE:
                if entry.stopped:
                    entry.buffer.move_from(buf)
                    entry.held_end |= end
                    self.resume(entry)
                    return
                continue
            entry.stopped = True
            if status is STOP_ITERATION_AND_BUFFER:
                self._hold(entry, buf, end)
            else:  # STOP_ITERATION: the filter owns the chunk; the end of stream waits for continue
                entry.held_end |= end
            return
        if self.live and not self.decoding:
            self.chain.stream.write_data(buf.take(), end)

    def trailers(self, start: int, trailers) -> None:
        for entry in self.entries[start:]:
            if not self.live:
                return
            if entry.stop_all:
                entry.held_trailers = trailers
                return
            status = self._call(entry, 2, trailers)
            if not self.live:
                return
            if status is CONTINUE:
                if entry.stopped:
                    entry.held_trailers = trailers
                    self.resume(entry)
                    return
                continue
            entry.stopped = True
            entry.held_trailers = trailers
            return
        if self.live and not self.decoding:
            self.chain.stream.write_trailers(trailers)

    def _hold(self, entry: _Entry, buf: Buffer, end: bool) -> None:
        entry.buffer.move_from(buf)
        entry.held_end |= end
        if self.buffered() <= self.chain.stream.buffer_limit:
            return
        if not entry.stop_all:
            self.chain.buffer_overflow(self.decoding, entry.index)
        elif not entry.holding_back:
            # Envoy's StopAllIterationAndWatermark (what its fault filter's delay does): a hold over the
            # limit pauses the source until the filter continues, where a 413 refused every delayed
            # upload larger than the buffer limit.
            entry.holding_back = True
            self.chain.hold_back(self.decoding, True)

    # -- resumption -------------------------------------------------------------------------------
    def resume(self, entry: _Entry) -> None:
        """Send on what `entry` held: its headers, then its buffered bytes, then its trailers; then let
        the source it paused go on (after the next filters had the chance to pause it themselves)."""
        entry.stopped = entry.stop_all = False
        self._send_held(entry)
        if entry.holding_back:
            entry.holding_back = False
            self.chain.hold_back(self.decoding, False)

    def _send_held(self, entry: _Entry) -> None:
        nxt = entry.index + 1
        if not entry.headers_continued:
            entry.headers_continued = True
            self.headers(nxt)
        if not self.live:
            return
        if len(entry.buffer) or entry.held_end:
            chunk = Buffer(entry.buffer.take())
            end = entry.held_end and entry.held_trailers is None
            entry.held_end = False
            self.data(nxt, chunk, end)
        if not self.live:
            return
        if entry.held_trailers is not None:
            trailers, entry.held_trailers = entry.held_trailers, None
            self.trailers(nxt, trailers)

    def continue_from(self, entry: _Entry) -> None:
        if entry.in_callback:
            raise HttpFilterContractError(
                f"{type(entry.filter).__name__} called continue_"
                f"{'decoding' if self.decoding else 'encoding'}() from inside its own "
                "callback; return CONTINUE instead"
            )
        if not self.live or not entry.stopped:
            return  # the stream ended, a local reply replaced it, or nothing is held here
        self.resume(entry)


class FilterCallbacks:
    """What one filter may ask of its stream (decoder and encoder callbacks in one object)."""

    __slots__ = ("chain", "index")

    def __init__(self, chain: "FilterChain", index: int) -> None:
        self.chain = chain
        self.index = index

    # iteration
    def continue_decoding(self) -> None:
        self.chain.decoder.continue_from(self.chain.decoder.entries[self.index])

    def continue_encoding(self) -> None:
        enc = self.chain.encoder
        enc.continue_from(enc.entries[len(enc.entries) - 1 - self.index])

    @property
    def decoding_buffer(self) -> Buffer:
        return self.chain.decoder.entries[self.index].buffer

    @property
    def encoding_buffer(self) -> Buffer:
        enc = self.chain.encoder
        return enc.entries[len(enc.entries) - 1 - self.index].buffer

    # answering
    def send_local_reply(self, status: int, body: bytes = b"", flags=(), headers=()) -> None:
        self.chain.send_local_reply(status, body, flags, headers)

    def encode_headers(self, head: ResponseHead, end_stream: bool) -> None:
        """Start the response (the router's way): through every encoder filter to the client."""
        self.chain.encode_headers(head, end_stream)

    def encode_data(self, data: bytes, end_stream: bool) -> None:
        self.chain.encode_data(data, end_stream)

    def encode_trailers(self, trailers: HeaderMap) -> None:
        self.chain.encode_trailers(trailers)

    def reset_stream(self, reason: str = "reset by filter", flag: str = "") -> None:
        self.chain.stream.reset(reason, flag)

    # services
    def route(self) -> Route | None:
        return self.chain.stream.route()

    def disable_downstream_reads(self, disable: bool) -> None:
        """Flow control (reference counted): stop acknowledging / reading the request body."""
        self.chain.stream.disable_reads(disable)

    @property
    def stream_info(self) -> dict:
        return self.chain.stream.stream_info

    @property
    def connection(self) -> Connection:
        return self.chain.stream.connection

    @property
    def dispatcher(self) -> Dispatcher:
        return self.chain.stream.dispatcher

    @property
    def ctx(self) -> ServerContext:
        return self.chain.stream.ctx

    @property
    def buffer_limit(self) -> int:
        return self.chain.stream.buffer_limit

    @property
    def stream_id(self) -> int:
        return self.chain.stream.stream_id

    @property
    def response_started(self) -> bool:
        return self.chain.encoder.head is not None


class FilterChain:
    def __init__(self, stream, filters) -> None:
        self.stream = stream
        self.filters = list(filters)
        self.decoder = _Direction(self, self.filters, decoding=True)
        self.encoder = _Direction(self, list(reversed(self.filters)), decoding=False)
        self.decoding_stopped = False  # a local reply answered the request: decoding goes no further
        self.encoding_stopped = False  # a direct local reply replaced the encode path
        self.local_reply_sent = False
        self.ended = False
        self.destroyed = False
        for i, f in enumerate(self.filters):
            cb = FilterCallbacks(self, i)
            f.set_decoder_filter_callbacks(cb)
            f.set_encoder_filter_callbacks(cb)

    # -- decoding: called by the connection manager as request events arrive ---------------------
    def decode_headers(self, head, end_stream: bool) -> None:
        d = self.decoder
        if d.head is not None:
            raise HttpFilterContractError("request headers decoded twice on one stream")
        d.head, d.headers_end = head, end_stream
        d.headers(0)

    def decode_data(self, data: bytes, end_stream: bool) -> None:
        self.decoder.data(0, Buffer(data), end_stream)

    def decode_trailers(self, trailers: HeaderMap) -> None:
        self.decoder.trailers(0, trailers)

    # -- encoding: started by the router or by a local reply -------------------------------------
    def encode_headers(self, head: ResponseHead, end_stream: bool) -> None:
        e = self.encoder
        if e.head is not None:
            raise HttpFilterContractError("response headers encoded twice on one stream")
        e.head, e.headers_end = head, end_stream
        e.headers(0)

    def encode_data(self, data: bytes, end_stream: bool) -> None:
        self.encoder.data(0, Buffer(data), end_stream)

    def encode_trailers(self, trailers: HeaderMap) -> None:
        self.encoder.trailers(0, trailers)

    # -- local replies -----------------------------------------------------------------------------
    def send_local_reply(self, status: int, body: bytes = b"", flags=(), headers=()) -> None:
        """Answer the request locally. Before the response started: through the encoder filters.
        While an encoder filter holds a response: replaces it, straight to the client. After the
        response headers went downstream: nothing can be said any more, the stream is reset."""
        if self.ended:
            return
        flags = (flags,) if isinstance(flags, str) else tuple(flags)
        self.decoding_stopped = True
        stream = self.stream
        if stream.response_started or self.local_reply_sent:
            stream.reset("local reply after the response started", flags[0] if flags else "")
            return
        self.local_reply_sent = True
        stream.note_local_reply(status, flags)
        # A reply before the decoder filters saw the request (path options, underscores) still
        # answers that request: a HEAD gets no body (an HTTP/2 client refuses DATA on it).
        request = self.decoder.head or getattr(stream, "head", None)
        head, body = local_reply_head(status, body, headers, request)
        if self.encoder.head is None:
            self.encode_headers(head, not body)
            if body and not self.ended and not self.encoding_stopped:
                self.encode_data(body, True)
            return
        self.encoding_stopped = True
        stream.write_headers(head, not body)
        if body and not self.ended:
            stream.write_data(body, True)

    def buffer_overflow(self, decoding: bool, index: int) -> None:
        if decoding:
            self.stream.ctx.stats.inc("http.downstream_rq_too_large")
            self.send_local_reply(413, b"request body too large\n", ())
        else:
            self.stream.ctx.stats.inc("http.rs_too_large")
            self.send_local_reply(500, b"response body too large\n", ())

    def hold_back(self, decoding: bool, paused: bool) -> None:
        """Pause (or resume) what feeds a direction: the client's request body (its reads), or the
        upstream's response (the router stops reading it, as for a slow client)."""
        if decoding:
            self.stream.disable_reads(paused)
        else:
            self.on_downstream_watermark(paused)

    # -- the end -------------------------------------------------------------------------------------
    def on_downstream_watermark(self, above: bool) -> None:
        name = "on_downstream_above_write_watermark" if above else "on_downstream_below_write_watermark"
        for f in self.filters:
            getattr(f, name)()

    def destroy(self) -> None:
        """The stream ended (complete or reset): every filter's on_destroy, exactly once."""
        self.ended = True
        if self.destroyed:
            return
        self.destroyed = True
        for f in self.filters:
            f.on_destroy()


def local_reply_head(status: int, body: bytes, extra_headers, request_head) -> tuple[ResponseHead, bytes]:
    """The head and body of a locally generated response (no body for HEAD, 1xx, 204, 304).

    A HEAD gets the head a GET would get (RFC 9110 9.3.2), its content-length included: RFC 9110
    8.6 allows no other value there (a HEAD answered "content-length: 0" for an 11-byte GET reply
    told clients and caches the wrong size). Envoy's sendLocalReply does the same."""
    if status in (204, 304):
        body = b""
    headers = HeaderMap(extra_headers)
    if body:
        if b"content-type" not in headers:
            headers.add(b"content-type", b"text/plain")
    headers.set(b"content-length", str(len(body)).encode())
    if request_head is not None and request_head.method == b"HEAD":
        body = b""
    return ResponseHead(status, headers), body


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
