"""One pooled upstream HTTP connection: a client codec on a Connection, and the streams on it.

HTTP/1.1 (`protocol="http1"`) carries one request at a time and is reused after a complete
exchange when both sides keep it alive. HTTP/2 (`"http2"`, prior-knowledge h2c) multiplexes
streams up to the peer's MAX_CONCURRENT_STREAMS.

The user of a stream (the router's upstream request) implements:
  on_upstream_headers(status, headers, end_stream, http_version)
  on_upstream_data(data, end_stream)
  on_upstream_trailers(headers)
  on_upstream_reset(reason, flag)           flag: Envoy's response flag for the failure, UPE (the
                                            upstream broke HTTP), UC (its connection ended) or UR
                                            (it reset or refused the stream)
  on_upstream_write_watermark(above: bool)   backpressure for the request body
and calls UpstreamStream's send_headers / send_data / send_trailers / reset / read_disable.

Received response body is acknowledged to an HTTP/2 upstream (codec.consume) once it has been
handed to the user, unless the user read-disabled the stream: then when it re-enables.
"""

from dataclasses import replace

from ..http.codec import (
    DEFAULT_LIMITS,
    CodecLimits,
    ConnectionClosed,
    Data,
    InformationalResponse,
    ProtocolViolation,
    ResponseHeaders,
    StreamReset,
    Trailers,
)
from ..http.codec_select import create_client_codec
from ..http.h2 import H2ClientCodec
from ..network.connection import CloseType, ConnectionEvent
from ..network.filter import STOP_ITERATION, ConnectionCallbacks, ReadFilter


class UpstreamStream:
    """One request/response exchange on a pooled connection."""

    __slots__ = (
        "pc",
        "user",
        "stream_id",
        "request_done",
        "response_done",
        "closed",
        "_disabled",
        "_unconsumed",
        "_watermark_above",
    )

    def __init__(self, pc: "PoolConnection", user) -> None:
        self.pc = pc
        self.user = user
        self.stream_id: int | None = None
        self.request_done = False
        self.response_done = False
        self.closed = False
        self._disabled = 0
        self._unconsumed = 0
        self._watermark_above = False

    @property
    def host(self):
        return self.pc.host

    # -- requests go up ----------------------------------------------------------------------------
    def send_headers(
        self, method: bytes, target: bytes, authority: bytes, headers, end_stream: bool, scheme: bytes = b"http"
    ) -> None:
        pc = self.pc
        self.stream_id = pc.codec.send_request_headers(method, target, authority, headers, end_stream, scheme)
        pc.streams[self.stream_id] = self
        self.request_done = end_stream
        pc.flush()

    def send_data(self, data: bytes, end_stream: bool) -> None:
        if self.closed:
            return
        assert self.stream_id is not None, "the headers went first"
        self.pc.codec.send_data(self.stream_id, data, end_stream)
        self.request_done = end_stream
        self.pc.flush()
        self.pc.check_outbound(self)
        if end_stream:
            self.pc.maybe_done(self)

    def send_trailers(self, headers) -> None:
        if self.closed:
            return
        assert self.stream_id is not None, "the headers went first"
        self.pc.codec.send_trailers(self.stream_id, headers)
        self.request_done = True
        self.pc.flush()
        self.pc.maybe_done(self)

    def reset(self) -> None:
        """Abandon the exchange (HTTP/1.1: the connection closes; HTTP/2: RST_STREAM)."""
        if self.closed:
            return
        pc = self.pc
        if self.stream_id is not None:
            pc.codec.reset_stream(self.stream_id)
        pc.stream_closed(self, reset=True)
        pc.flush()

    # -- flow control of the response ------------------------------------------------------------
    def read_disable(self, disable: bool) -> None:
        if self.closed:
            return  # a finished exchange: its connection may already be idle in the pool, reading
        if disable:
            self._disabled += 1
            if self._disabled == 1 and self.pc.protocol == "http1":
                self.pc.conn.read_disable(True)
            return
        if self._disabled == 0:
            return
        self._disabled -= 1
        if self._disabled == 0:
            if self.pc.protocol == "http1":
                self.pc.conn.read_disable(False)
            self._consume()

    def _consume(self) -> None:
        if self._unconsumed and not self._disabled and self.stream_id is not None:
            n, self._unconsumed = self._unconsumed, 0
            self.pc.codec.consume(self.stream_id, n)
            self.pc.flush()


class _Reader(ReadFilter):
    __slots__ = ("pc",)

    def __init__(self, pc) -> None:
        self.pc = pc

    def on_data(self, data, end_stream):
        self.pc.on_bytes(data.take(), end_stream)
        return STOP_ITERATION


def _limits(buffer_limit: int) -> CodecLimits:
    """An HTTP/2 upstream may send as much as the connection's buffer limit ahead of the proxy's
    reading (stream and connection windows), as Envoy's large upstream windows let it: what the proxy
    holds for a slow client stays bounded by the watermarks (a read-disabled stream is not credited),
    and a large response is not held to 64 KiB per round trip."""
    window = min(max(buffer_limit, DEFAULT_LIMITS.h2_initial_window_size), 2**31 - 1)
    return replace(DEFAULT_LIMITS, h2_initial_window_size=window)


class PoolConnection(ConnectionCallbacks):
    def __init__(self, pool, conn, host, protocol: str) -> None:
        self.pool = pool
        self.conn = conn
        self.host = host
        self.protocol = protocol
        self.codec = create_client_codec("HTTP2" if protocol == "http2" else "HTTP1", _limits(conn.buffer_limit))
        self.streams: dict[int, UpstreamStream] = {}
        self.active: set = set()  # UpstreamStreams attached here, started or not
        self.state = "connecting"  # connecting | ready | closed
        self.above_watermark = False
        self.resting = False  # HTTP/1.1: an exchange just ended; reusable once its close had a chance
        self.protocol_error = False  # counted in upstream_cx_protocol_error
        conn.add_connection_callbacks(self)
        conn.add_read_filter(_Reader(self))
        conn.initialize_read_filters()

    def __repr__(self) -> str:
        return f"PoolConnection({self.host}, {self.protocol}, {self.state}, streams={len(self.active)})"

    # -- capacity ------------------------------------------------------------------------------------
    def can_take(self) -> bool:
        if (self.active or self.resting) and self.protocol == "http1":
            return False  # the common case while the pool looks for a free connection: cheapest first
        if self.state != "ready" or not self.conn.is_open or self.codec.wants_close:
            return False
        if self.protocol == "http1":
            return not self.active and self.codec.can_send_request()
        if self.active and self.awaiting_settings:
            # Until the upstream's SETTINGS arrive its stream limit is unknown (RFC 9113 6.5.2: none,
            # initially): one stream goes with the preface, the rest wait for the limit rather than be
            # refused by an upstream whose limit is lower (docs/semantics.md).
            return False
        return self.codec.can_send_request()

    @property
    def awaiting_settings(self) -> bool:
        """HTTP/2, connected, the upstream's SETTINGS not yet in: it will take streams once they are."""
        codec = self.codec
        return self.state == "ready" and isinstance(codec, H2ClientCodec) and not codec.peer_settings_received

    def attach(self, user) -> UpstreamStream:
        stream = UpstreamStream(self, user)
        self.active.add(stream)
        if self.above_watermark:
            # A stream opened on a connection already backed up starts paused, as Envoy's
            # CodecClient::newStream does: else its request body went into the full write buffer
            # as fast as its client sent it (as far as the upstream's HTTP/2 window allows).
            stream._watermark_above = True
            user.on_upstream_write_watermark(True)
        return stream

    def rest_before_reuse(self) -> None:
        """An HTTP/1.1 upstream may close the connection right after its response without saying
        so (RFC 9112 9.6); its end of stream can lie unread behind the response. The connection
        takes its next request only after the I/O already waiting was handled, as Envoy attaches
        waiting requests after the read event that ended the response (scheduleOnUpstreamReady):
        else that request went out on a closing connection and failed with a 503."""
        self.resting = True
        self.conn.dispatcher.post_after_io(self._rested)

    def _rested(self) -> None:
        self.resting = False
        if self.state == "ready" and self.conn.is_open:
            self.pool.on_connection_ready(self)

    # -- bytes in and out -----------------------------------------------------------------------------
    def flush(self) -> None:
        self.codec.note_unwritten(len(self.conn.write_buffer))
        out = self.codec.data_to_send()
        if out and self.conn.is_open:
            self.conn.write(out)
        if self.codec.wants_close and self.conn.is_open:
            self.conn.close(CloseType.NO_FLUSH if self.codec.close_unflushed else CloseType.FLUSH_WRITE)

    def on_bytes(self, data: bytes, end_stream: bool) -> None:
        awaited_settings = self.awaiting_settings
        events = self.codec.receive_data(data) if data else []
        if end_stream:
            events += self.codec.receive_data(b"")
        for ev in events:
            self._dispatch(ev)
        if self.pool.pending and self.can_take():
            # The peer made room without a stream ending (its SETTINGS raised the stream limit):
            # the queue is served now, as Envoy's pool is told by the codec client's onSettings.
            self.pool.on_connection_ready(self)
        elif self.pool.pending and awaited_settings and not self.awaiting_settings:
            self.pool.on_stream_limit_known(self)
        self.flush()
        for stream in list(self.active):
            self.check_outbound(stream)
        if self.codec.wants_close and not self.active and self.conn.is_open:
            self.conn.close(CloseType.FLUSH_WRITE)

    def _dispatch(self, ev) -> None:
        if isinstance(ev, ProtocolViolation) and (ev.stream_id is None or self.protocol == "http1"):
            self._count_protocol_error()  # the connection is lost to it (HTTP/1.1: always)
        if isinstance(ev, (ConnectionClosed,)) or (isinstance(ev, ProtocolViolation) and ev.stream_id is None):
            reason = f"upstream connection: {ev.reason}"
            # A graceful GOAWAY refuses the streams above its last id (Envoy: remote refused stream).
            flag = "UPE" if isinstance(ev, ProtocolViolation) else "UR" if ev.error_code == 0 else "UC"
            for stream in list(self.active):
                if (
                    stream.stream_id is not None
                    and isinstance(ev, ConnectionClosed)
                    and ev.last_stream_id is not None
                    and stream.stream_id <= ev.last_stream_id
                ):
                    continue  # GOAWAY: streams at or below last_stream_id still complete
                self._fail_stream(stream, reason, flag)
            return
        stream_id = getattr(ev, "stream_id", None)
        stream = self.streams.get(stream_id) if stream_id is not None else None
        if stream is None or stream.closed:
            if isinstance(ev, Data) and ev.data:
                self.codec.consume(ev.stream_id, len(ev.data))
            return
        if isinstance(ev, InformationalResponse):
            return  # 1xx from the upstream: the connection manager answers 100-continue itself
        # A finished exchange is closed before the user hears of its end, so that whatever the
        # user does in reaction (end the downstream stream, reset) sees a closed stream.
        if isinstance(ev, ResponseHeaders):
            if ev.end_stream:
                self._response_done(stream)
            stream.user.on_upstream_headers(ev.status, ev.headers, ev.end_stream, ev.http_version)
        elif isinstance(ev, Data):
            stream._unconsumed += len(ev.data)
            if ev.end_stream:
                self._response_done(stream)
            stream.user.on_upstream_data(ev.data, ev.end_stream)
            stream._consume()
        elif isinstance(ev, Trailers):
            self._response_done(stream)
            stream.user.on_upstream_trailers(ev.headers)
        elif isinstance(ev, ProtocolViolation):
            self._fail_stream(stream, f"upstream reset: {ev.reason}", "UPE")
        elif isinstance(ev, StreamReset):
            # HTTP/1.1 has no reset: its codec reports the connection ending under the response.
            self._fail_stream(stream, f"upstream reset: {ev.reason}", "UC" if self.protocol == "http1" else "UR")

    def _response_done(self, stream: UpstreamStream) -> None:
        stream.response_done = True
        self.maybe_done(stream)

    def _fail_stream(self, stream: UpstreamStream, reason: str, flag: str) -> None:
        if stream.closed:
            return
        self.stream_closed(stream, reset=True)
        stream.user.on_upstream_reset(reason, flag)

    def _count_protocol_error(self) -> None:
        """Envoy's cluster stat upstream_cx_protocol_error: once per connection the upstream broke."""
        if not self.protocol_error:
            self.protocol_error = True
            self.pool.ctx.stats.inc(self.pool.prefix + "upstream_cx_protocol_error")

    # -- stream ends -----------------------------------------------------------------------------------
    def maybe_done(self, stream: UpstreamStream) -> None:
        if stream.response_done and stream.request_done and not stream.closed:
            self.stream_closed(stream, reset=False)

    def stream_closed(self, stream: UpstreamStream, reset: bool) -> None:
        if stream.closed:
            return
        stream.closed = True
        if stream._disabled and self.protocol == "http1":
            self.conn.read_disable(False)
        stream._disabled = 0
        self.active.discard(stream)
        if stream.stream_id is not None:
            self.streams.pop(stream.stream_id, None)
        if reset and self.protocol == "http1" and self.conn.is_open:
            self.conn.close(CloseType.NO_FLUSH)  # HTTP/1.1 cannot abandon one exchange and go on
        self.pool.on_stream_closed(self)

    # -- backpressure on the request body -------------------------------------------------------------
    def check_outbound(self, stream: UpstreamStream) -> None:
        """HTTP/2: bytes waiting for the upstream's window count like a full write buffer."""
        codec = self.codec
        if not isinstance(codec, H2ClientCodec) or stream.closed or stream.stream_id is None:
            return
        above = codec.buffered_outbound(stream.stream_id) > self.conn.buffer_limit
        if above != stream._watermark_above and not self.above_watermark:
            stream._watermark_above = above
            stream.user.on_upstream_write_watermark(above)

    def on_above_write_buffer_high_watermark(self) -> None:
        self.above_watermark = True
        for stream in list(self.active):
            if not stream._watermark_above:
                stream._watermark_above = True
                stream.user.on_upstream_write_watermark(True)

    def on_below_write_buffer_low_watermark(self) -> None:
        self.above_watermark = False
        for stream in list(self.active):
            if stream._watermark_above:
                stream._watermark_above = False
                stream.user.on_upstream_write_watermark(False)
            self.check_outbound(stream)

    # -- connection events -----------------------------------------------------------------------------
    def on_event(self, event) -> None:
        if event is ConnectionEvent.CONNECTED:
            self.state = "ready"
            self.flush()  # the HTTP/2 preface and SETTINGS
            self.pool.on_connection_ready(self)
            return
        was_connecting = self.state == "connecting"
        if event is ConnectionEvent.REMOTE_CLOSE and self.state == "ready":
            # The upstream's close can end a response (RFC 9112 6.3: a body without a length runs
            # to the close); the connection does not pass the end of stream to its filters without
            # half-close, so the codec hears it here, before the streams left over fail (Envoy's
            # CodecClient dispatches an empty buffer on RemoteClose for the same reason).
            for ev in self.codec.receive_data(b""):
                self._dispatch(ev)
        self.state = "closed"
        for stream in list(self.active):
            self._fail_stream(stream, "upstream connection closed", "UC")
        if was_connecting:
            self.pool.on_connect_failure(self, self.conn.stream_info.get("failure", "connect_failed"))
        else:
            self.pool.on_connection_closed(self)
