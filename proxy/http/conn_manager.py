"""http_connection_manager: the terminal network filter that speaks HTTP (Envoy's HCM).

Bytes from the connection go to a server codec (AUTO, HTTP1 or HTTP2; proxy/http/codec.py);
each request becomes an ActiveStream with its own HTTP filter chain (proxy/http/filter_chain.py):
the configured filters, then the router. Responses go back through the codec, so HTTP/1.1 and
HTTP/2 clients and upstreams mix freely (translation is through the protocol-neutral events).

Per stream
  * request headers larger than max_request_headers_kb (default 60 KiB) get a 431;
  * before the filters, Envoy's request checks: header and trailer names with "_"
    (headers_with_underscores_action: 400 by default, or dropped), then the path options
    (normalize_path, merge_slashes, path_with_escaped_slashes_action: proxy/http/path.py);
  * `Expect: 100-continue` is answered with a 100 here;
  * request_timeout_ms runs from the request headers to the end of the response: 408 while the
    request is incomplete, 504 after, a reset once the response started; no response flag, as
    Envoy's onRequestTimeout sets none (its DT is max_stream_duration's and the connection
    durations', which the schema lacks);
  * stream_idle_timeout_ms (Envoy's stream_idle_timeout, default 5 min, 0: none): a stream with no
    request or response headers, body or trailers going through it that long gets 408, or a reset
    once the response started (flag SI, http.downstream_rq_idle_timeout): a client that stops
    reading an HTTP/2 stream, or stops sending, lets go of what the stream holds;
  * flow control: request body delivered to the filters is acknowledged to an HTTP/2 client
    (codec.consume) right after delivery unless the stream is read-disabled (the router does this
    while its upstream cannot take more), then when it is re-enabled; for HTTP/1.1 the connection's
    reads are disabled instead. A slow client (write buffer above high watermark, or HTTP/2 bytes
    waiting for its window beyond the buffer limit) pauses the upstream response. The buffer limit
    (the listener's per_connection_buffer_limit_bytes) also bounds an HTTP/2 connection as a whole:
    while its streams hold more than that for the client's windows, every stream with bytes
    waiting is paused too, so stalled streams hold about one buffer limit, not one each;
  * every stream ends exactly once, in one of three ways, counted so that
        http.downstream_rq_total == http.downstream_rs_total + http.local_replies + http.downstream_rq_reset
    once no stream is active (`http.downstream_rq_active` gauge); ending one twice raises
    StreamEndedTwiceError. Completed responses are also counted per status (downstream_rq_<code>,
    downstream_rq_<N>xx). One access log record per stream when configured.
Per connection
  * idle_timeout_ms: a connection without streams that long is closed (after a GOAWAY on HTTP/2);
    an HTTP/1.1 request head still arriving (or an HTTP/2 header block left open) counts as a
    stream, bounded by stream_idle_timeout_ms from its first byte (408 and a close; HTTP/2: GOAWAY),
    as Envoy's stream exists from that byte;
  * codec counters (protocol errors, HTTP/2 flood defences) are exported as `http.<counter>`.

Every counter goes to `http.` and, with a stat_prefix, also to `http.<stat_prefix>.`.
"""

from collections import deque
from dataclasses import dataclass
from typing import Literal

from ..config import defaults
from ..context import ServerContext
from ..event import Timer
from ..network.connection import CloseType, Connection, ConnectionEvent
from ..network.filter import CONTINUE, STOP_ITERATION, ConnectionCallbacks, ReadFilter
from ..network.registry import register_network_filter
from . import access_log
from .codec import (
    CodecKind,
    CodecLimits,
    ConnectionClosed,
    Data,
    Event,
    HeaderListTooLarge,
    ProtocolViolation,
    RequestHeaders,
    ServerCodec,
    StreamReset,
    Trailers,
)
from .codec_select import AutoServerCodec, create_server_codec
from .filter_chain import FilterChain
from .filters.router import Router
from .message import HeaderMap, RequestHead
from .path import PathOptions, apply_path_options
from .registry import http_filter_factory
from .route import RouteBuildError, RouteTable, build_route_table

_CODECS: dict[int, CodecKind] = {0: "AUTO", 1: "HTTP1", 2: "HTTP2"}
_UNSET = object()
# Envoy's HttpConnectionManager.delayed_close_timeout default: a connection closing with output
# pending waits this long for the client to take some of it (each progress restarts it), then closes.
DELAYED_CLOSE_TIMEOUT_MS = 1000


class StreamEndedTwiceError(AssertionError):
    """A stream was ended (completed, reset or locally answered) more than once: a proxy bug."""


@dataclass(frozen=True, eq=False)
class HcmConfig:
    codec: CodecKind
    stat_scopes: tuple
    route_table: RouteTable
    filter_makers: tuple  # make(ctx) -> StreamFilter, in configuration order
    filter_names: tuple
    request_timeout_ms: int
    idle_timeout_ms: int
    max_request_headers_bytes: int
    limits: CodecLimits
    access_log: str | None  # "stdout", a path, or None
    path_options: PathOptions
    underscores: str  # headers_with_underscores_action: ALLOW | REJECT_REQUEST | DROP_HEADER
    stream_idle_timeout_ms: int = 300000


def build_hcm_config(msg, build) -> HcmConfig:
    try:
        table = build_route_table(msg.route_config, build.clusters, "route_config")
    except RouteBuildError as exc:
        raise build.error(exc.message, exc.path) from None
    makers, names = [], []
    for i, f in enumerate(msg.http_filters):
        kind = f.WhichOneof("filter")
        if kind is None:
            raise build.error("no filter type is set", f"http_filters[{i}]")
        try:
            factory = http_filter_factory(kind)
        except KeyError:
            raise build.error(
                f"no HTTP filter is registered as {kind!r} in this build", f"http_filters[{i}].{kind}"
            ) from None
        sub = type(build)(
            clusters=build.clusters, listener_name=build.listener_name, path=f"{build.path}.http_filters[{i}].{kind}"
        )
        makers.append(factory(getattr(f, kind), sub))
        names.append(kind)
    header_kb = defaults.get(msg, "max_request_headers_kb")
    h2 = msg.http2_protocol_options
    header_bytes = header_kb * 1024
    limits = CodecLimits(
        # The codecs get headroom above the configured size so that the connection manager, not
        # an HTTP/2 HPACK defence, answers an oversized request (431 on both protocols).
        max_header_bytes=max(header_bytes * 2, defaults.get(h2, "max_header_list_size")),
        h2_max_concurrent_streams=defaults.get(h2, "max_concurrent_streams"),
        h2_initial_window_size=defaults.get(h2, "initial_window_size"),
        h2_max_frame_size=defaults.get(h2, "max_frame_size"),
        h2_max_outbound_frames=defaults.get(h2, "max_outbound_frames"),
        h2_max_outbound_control_frames=defaults.get(h2, "max_outbound_control_frames"),
        h2_max_consecutive_empty_frames=defaults.get(h2, "max_consecutive_inbound_frames_with_empty_payload"),
    )
    sink = None
    if msg.HasField("access_log"):
        sink = "stdout" if msg.access_log.WhichOneof("sink") == "stdout" else msg.access_log.path
    scopes = ("http.",) + ((f"http.{msg.stat_prefix}.",) if msg.stat_prefix else ())
    escaped = type(msg).PathWithEscapedSlashesAction.Name(msg.path_with_escaped_slashes_action)
    paths = PathOptions(
        normalize=msg.normalize_path,
        merge_slashes=msg.merge_slashes,
        escaped_slashes="KEEP_UNCHANGED" if escaped == "IMPLEMENTATION_SPECIFIC_DEFAULT" else escaped,
    )
    common = msg.common_http_protocol_options
    underscores = type(common).HeadersWithUnderscoresAction.Name(
        defaults.get(common, "headers_with_underscores_action")
    )
    return HcmConfig(
        codec=_CODECS[msg.codec],
        stat_scopes=scopes,
        route_table=table,
        filter_makers=tuple(makers),
        filter_names=tuple(names),
        request_timeout_ms=msg.request_timeout_ms,
        idle_timeout_ms=msg.idle_timeout_ms,
        max_request_headers_bytes=header_bytes,
        limits=limits,
        access_log=sink,
        path_options=paths,
        underscores=underscores,
        stream_idle_timeout_ms=defaults.get(msg, "stream_idle_timeout_ms"),
    )


@register_network_filter("http_connection_manager")
def http_connection_manager_factory(msg, build):
    config = build_hcm_config(msg, build)

    def install(connection, ctx):
        connection.add_read_filter(HttpConnectionManager(config, ctx))

    return install


class _Stats:
    __slots__ = ("stats", "scopes")

    def __init__(self, stats, scopes) -> None:
        self.stats, self.scopes = stats, scopes

    def inc(self, name: str, n: int = 1) -> None:
        for s in self.scopes:
            self.stats.inc(s + name, n)

    def gauge_add(self, name: str, n: int) -> None:
        for s in self.scopes:
            self.stats.gauge_add(s + name, n)


class ActiveStream:
    """One request/response exchange: its filter chain, its timers, its accounting."""

    def __init__(self, hcm: "HttpConnectionManager", ev: RequestHeaders) -> None:
        self.hcm = hcm
        self.ctx = hcm.ctx
        self.stream_id = ev.stream_id
        self.connection = hcm.conn
        self.dispatcher = hcm.ctx.dispatcher
        self.buffer_limit = hcm.conn.buffer_limit
        scheme = ev.scheme
        if ev.http_version != b"2" and scheme == b"http" and hcm.conn.ssl is not None:
            scheme = b"https"  # RFC 9112 3.3: a target URI read over TLS is https (Envoy: the same)
        self.head = RequestHead(ev.method, ev.target, ev.authority, scheme, HeaderMap(ev.headers), ev.http_version)
        self.stream_info: dict = {"response_flags": []}
        self.start_ms = self.dispatcher.now_ms()
        self.request_complete = ev.end_stream
        self.response_started = False
        self.status = 0
        self.local_reply = False
        # The whole response is with the codec: a close that follows at once (the codec's own, e.g.
        # when only the close ends the body) ends the stream as answered, not reset (Envoy ends the
        # stream as it finishes encoding, before the connection closes).
        self.local_complete = False
        # The proxy is resetting the stream itself: the HTTP/1.1 close that reset makes is ours, so
        # it must not read as the client going away (DC) when it comes back as a connection event.
        self.resetting = False
        self.ended = False
        self.bytes_in = 0
        self.bytes_out = 0
        self.unconsumed = 0
        self.read_disabled = 0
        # Paused for the bytes it holds for its client: its own ("stream") or the connection's.
        self.slow_client: Literal["stream", "connection", False] = False
        self._route = _UNSET
        self._timer: Timer | None = None
        self._idle_timer: Timer | None = None
        self._active_ms = self.start_ms  # the last headers, body or trailers through the stream
        filters = [make(self.ctx) for make in hcm.config.filter_makers]
        filters.append(Router(self.ctx))
        self.chain = FilterChain(self, filters)

    # -- services for filters --------------------------------------------------------------------------
    def route(self):
        if self._route is _UNSET:
            self._route = self.hcm.config.route_table.match(self.head, self.ctx.random)
        return self._route

    def disable_reads(self, disable: bool) -> None:
        if self.ended:
            return
        if disable:
            self.read_disabled += 1
            if self.read_disabled == 1 and self.hcm.protocol == "HTTP1":
                self.connection.read_disable(True)
            return
        if self.read_disabled == 0:
            raise AssertionError("disable_downstream_reads(False) without a matching (True)")
        self.read_disabled -= 1
        if self.read_disabled == 0:
            if self.hcm.protocol == "HTTP1":
                self.connection.read_disable(False)
            self.consume()
            self.hcm.flush()

    def consume(self) -> None:
        """Acknowledge delivered request body (HTTP/2 WINDOW_UPDATE) unless reads are disabled."""
        if self.unconsumed and not self.read_disabled:
            n, self.unconsumed = self.unconsumed, 0
            self.hcm.codec.consume(self.stream_id, n)

    # -- the sink: the end of the encoder chain ---------------------------------------------------------
    def write_headers(self, head, end_stream: bool) -> None:
        self.active()
        headers = list(head.headers)
        if head.status < 200 or head.status == 204:
            # RFC 9110 8.6: a server MUST NOT send Content-Length in a 1xx or 204 (nor, RFC 9112
            # 6.1, Transfer-Encoding), whatever upstream, filter or direct response produced the head.
            headers = [(n, v) for n, v in headers if n not in (b"content-length", b"transfer-encoding")]
        try:
            self.hcm.codec.send_headers(self.stream_id, head.status, headers, end_stream)
        except HeaderListTooLarge:
            # RFC 9113 6.5.2: more than the client said it accepts (advisory; Envoy sends it anyway:
            # docs/semantics.md). A 1xx is left out; a final response is replaced by a 502 with no
            # response flag, as the upstream's response had no protocol error (UPE's meaning).
            if head.status >= 200:
                self.chain.send_local_reply(502, b"response headers too large for the client\n")
            return
        self.response_started = True
        if head.status >= 200:
            self.status = head.status  # the access log's status: the final head, never a 1xx
        if head.status >= 200 and not self.hcm.codec.answered_itself(self.stream_id):
            # Envoy charges downstream_rq_<code> as it encodes the final headers (ActiveStream::
            # chargeStats): the client has the status even if the stream is reset after it.
            self.hcm.count_response(head.status)
        self.local_complete = end_stream and head.status >= 200
        self.hcm.after_send()
        # after_send may have ended this stream already (the codec closed the connection and
        # every open stream with it): found by the network_filter fuzzer as a stream ended twice.
        if end_stream and not self.ended:
            self._end_answered()

    def write_data(self, data: bytes, end_stream: bool) -> None:
        if self.ended:
            return
        self.active()
        self.bytes_out += len(data)
        self.hcm.codec.send_data(self.stream_id, data, end_stream)
        self.local_complete = end_stream
        self.hcm.after_send()
        if self.ended:
            return  # see write_headers
        if end_stream:
            self._end_answered()
        else:
            self.hcm.check_slow_client(self)

    def write_trailers(self, trailers) -> None:
        if self.ended:
            return
        self.active()
        try:
            self.hcm.codec.send_trailers(self.stream_id, list(trailers))
        except HeaderListTooLarge:
            self.reset("response trailers too large for the client")  # begun; no flag, as for the head
            return
        self.local_complete = True
        self.hcm.after_send()
        if not self.ended:  # see write_headers: after_send may have ended it with the connection
            self._end_answered()

    def note_local_reply(self, status: int, flags) -> None:
        self.local_reply = True
        self.stream_info["response_flags"].extend(flags)

    def reset(self, reason: str, flag: str = "") -> None:
        """Abandon the stream: HTTP/2 RST_STREAM, HTTP/1.1 closes the connection."""
        if self.ended:
            return
        if flag:
            self.stream_info["response_flags"].append(flag)
        self.stream_info["reset_reason"] = reason
        self.resetting = True
        self.hcm.codec.reset_stream(self.stream_id, reason)
        self.hcm.after_send()
        if not self.ended:
            self._end("reset")

    def peer_gone(self, reason: str, flag: str = "DC") -> None:
        """The client reset the stream, or the connection died: nothing to send any more."""
        if self.ended:
            return
        if self.local_complete:  # answered whole before the connection went: see __init__
            self._end_answered()
            return
        if self.resetting:  # the close of our own reset (HTTP/1.1): its reason and flag stand
            self._end("reset")
            return
        self.stream_info["reset_reason"] = reason
        if flag:
            self.stream_info["response_flags"].append(flag)
        self._end("reset")

    # -- timers --------------------------------------------------------------------------------------------
    def arm_request_timeout(self, ms: int) -> None:
        self._timer = self.dispatcher.create_timer(self._on_request_timeout)
        self._timer.enable(ms)

    def _on_request_timeout(self) -> None:
        if self.ended:
            return
        self.hcm.stats.inc("downstream_rq_timeout")
        if self.response_started:
            self.reset("request timeout")
        else:
            status = 504 if self.request_complete else 408
            self.chain.send_local_reply(status, b"request timeout\n")
        self.hcm.flush()

    def arm_idle_timeout(self, ms: int) -> None:
        self._idle_timer = self.dispatcher.create_timer(self._on_idle_timeout)
        self._idle_timer.enable(ms)

    def active(self) -> None:
        """Headers, body or trailers went through the stream: its idle timeout starts again."""
        if self._idle_timer is not None:
            self._active_ms = self.dispatcher.now_ms()

    def _on_idle_timeout(self) -> None:
        if self.ended:
            return
        left = self._active_ms + self.hcm.config.stream_idle_timeout_ms - self.dispatcher.now_ms()
        if left > 0:  # re-armed lazily: activity only notes the time
            assert self._idle_timer is not None, "only the armed idle timer calls back"
            self._idle_timer.enable(left)
            return
        self.hcm.stats.inc("downstream_rq_idle_timeout")
        if self.response_started:
            self.reset("stream idle timeout", "SI")
        else:
            self.chain.send_local_reply(408, b"stream timeout\n", flags="SI")
        self.hcm.flush()

    def _end_answered(self) -> None:
        self._end("local_reply" if self.local_reply else "response")

    # -- the one end ----------------------------------------------------------------------------------------
    def _end(self, kind: str) -> None:
        if self.ended:
            raise StreamEndedTwiceError(f"stream {self.stream_id} ended as {kind!r} after it had already ended")
        self.ended = True
        hcm = self.hcm
        stats = hcm.stats
        if kind == "reset":
            stats.inc("downstream_rq_reset")
        else:
            stats.inc("local_replies" if kind == "local_reply" else "downstream_rs_total")
        stats.gauge_add("downstream_rq_active", -1)
        if self._timer is not None:
            self._timer.disable()
        if self._idle_timer is not None:
            self._idle_timer.disable()
        if self.read_disabled:
            if hcm.protocol == "HTTP1":
                self.connection.read_disable(False)
            self.read_disabled = 0
        if self.unconsumed and kind != "reset":
            self.unconsumed, n = 0, self.unconsumed
            hcm.codec.consume(self.stream_id, n)
        self.end_kind = kind
        hcm.stream_ended(self)
        self.chain.destroy()
        if hcm.config.access_log is not None:
            self._log(kind, hcm.config.access_log)

    def _log(self, kind: str, sink: str) -> None:
        info = self.stream_info
        record = access_log.build_record(
            method=self.head.method,
            path=self.head.path,
            authority=self.head.authority,
            protocol=self.head.http_version,
            status=self.status,  # what went downstream, also when a reset followed the head (Envoy's %RESPONSE_CODE%)
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            duration_ms=self.dispatcher.now_ms() - self.start_ms,
            upstream_host=info.get("upstream_host", ""),
            cluster=info.get("upstream_cluster", ""),
            flags=info["response_flags"],
            remote_address=self.connection.remote_address,
            route=info.get("route_name", ""),
            end=kind,
            tls=self.connection.ssl,
        )
        access_log.emit(self.ctx, sink, record)


class HttpConnectionManager(ReadFilter, ConnectionCallbacks):
    # Set by initialize_read_filter_callbacks, which add_read_filter calls right after construction.
    conn: Connection
    codec: ServerCodec

    def __init__(self, config: HcmConfig, ctx: ServerContext) -> None:
        self.config = config
        self.ctx = ctx
        self.stats = _Stats(ctx.stats, config.stat_scopes)
        self.streams: dict[int, ActiveStream] = {}
        self._events: deque[Event] = deque()
        self._pumping = False
        self._idle_timer: Timer | None = None
        self._exported: dict = {}
        self._slow_streams = False  # some stream is paused for what it holds for the client
        self.closed = False
        self._going_away = False  # a GOAWAY (or last response) went out: close once nothing is left
        self._held_timer: Timer | None = None  # bounds the wait for output the client's window holds
        self._held = 0
        self._head_timer: Timer | None = None  # bounds a request head still arriving (stream idle timeout)
        self._head_pending = False  # such a head holds the connection's idle timer off

    # -- network filter -----------------------------------------------------------------------------------
    def initialize_read_filter_callbacks(self, callbacks) -> None:
        super().initialize_read_filter_callbacks(callbacks)
        self.conn = callbacks.connection
        self.conn.add_connection_callbacks(self)
        self.conn.set_delayed_close_timeout(DELAYED_CLOSE_TIMEOUT_MS)
        self.codec = create_server_codec(self.config.codec, self.config.limits)
        self.stats.inc("downstream_cx_total")
        self.stats.gauge_add("downstream_cx_active", 1)
        if self.config.idle_timeout_ms:
            self._idle_timer = self.ctx.dispatcher.create_timer(self._on_idle_timeout)
            self._idle_timer.enable(self.config.idle_timeout_ms)
        self.ctx.drain_callbacks.add(self._on_drain)

    def on_new_connection(self):
        if self.ctx.draining:  # accepted just before the listener closed
            self._on_drain()
        return CONTINUE

    def on_data(self, data, end_stream):
        codec = self.codec
        if isinstance(codec, AutoServerCodec) and self.conn.ssl is not None and codec.protocol is None:
            codec.follow_alpn(self.conn.ssl.alpn)  # AUTO follows TLS ALPN (h2, http/1.1)
        chunk = data.take()
        events = self.codec.receive_data(chunk) if chunk else []
        if end_stream:
            events += self.codec.receive_data(b"")
        self._events.extend(events)
        self._pump()
        return STOP_ITERATION

    @property
    def protocol(self) -> str | None:
        codec = self.codec
        kind = getattr(codec, "protocol", None)
        if kind is not None or self.config.codec == "AUTO":
            return kind
        return self.config.codec

    # -- events ----------------------------------------------------------------------------------------------
    def _pump(self) -> None:
        if self._pumping:
            return
        self._pumping = True
        try:
            while self._events:
                self._dispatch(self._events.popleft())
                self._events.extend(self.codec.pending_events())
        finally:
            self._pumping = False
        self.flush()
        self._check_slow_clients()
        self._watch_request_start()

    def after_send(self) -> None:
        """After a codec command: a freed pipelining slot may release parsed requests."""
        self._events.extend(self.codec.pending_events())
        self._pump()

    def _dispatch(self, ev: Event) -> None:
        if self.closed:
            return
        if isinstance(ev, RequestHeaders):
            self._new_stream(ev)
            return
        if isinstance(ev, ProtocolViolation) and ev.status is not None:
            self.count_response(ev.status)  # the codec's own error reply (HTTP/1.1 400, 505, ...)
            self._count_streamless_request(ev)
            self._log_codec_reply(ev)
        if isinstance(ev, ProtocolViolation) and ev.stream_id is None:
            self.stats.inc("downstream_cx_protocol_error")
            if ev.earlier_streams_live:
                return  # HTTP/1.1 pipelining: the earlier requests are answered, then the codec's error reply
            for live in list(self.streams.values()):
                live.peer_gone(f"protocol error: {ev.reason}", "DPE")
            return
        if isinstance(ev, ConnectionClosed):
            return  # the connection's own close event resets what is left
        stream = self.streams.get(ev.stream_id) if ev.stream_id is not None else None
        if stream is None or stream.ended:
            if isinstance(ev, Data) and ev.data:
                self.codec.consume(ev.stream_id, len(ev.data))  # a stream we are done with
            return
        stream.active()
        if isinstance(ev, Data):
            stream.bytes_in += len(ev.data)
            stream.unconsumed += len(ev.data)
            if ev.end_stream:
                stream.request_complete = True
            stream.chain.decode_data(ev.data, ev.end_stream)
            if not stream.ended:
                stream.consume()
        elif isinstance(ev, Trailers):
            stream.request_complete = True
            trailers = HeaderMap(ev.headers)
            if not self._refuse_underscores(stream, trailers):
                stream.chain.decode_trailers(trailers)
        elif isinstance(ev, StreamReset):
            stream.peer_gone(ev.reason)
        elif isinstance(ev, ProtocolViolation):
            self.stats.inc("downstream_rq_protocol_error")
            stream.peer_gone(f"protocol error: {ev.reason}", "DPE")

    def _log_codec_reply(self, ev: ProtocolViolation, flag: str = "DPE") -> None:
        """The codec's own error reply goes into the access log as Envoy's does (status, flag DPE; SI
        for a request head that timed out):
        hostile requests the codec refuses (smuggling attempts included) must leave a trace. A stream
        it belongs to logs it when it ends; a request refused before it had one gets a record here."""
        stream = self.streams.get(ev.stream_id) if ev.stream_id is not None else None
        if stream is not None and not stream.ended:
            stream.status = ev.status or 0
            return
        if self.config.access_log is None:
            return
        record = access_log.build_record(
            method=b"-",
            path=b"-",
            authority=b"",
            protocol=b"1.1",
            status=ev.status or 0,
            bytes_in=0,
            bytes_out=0,
            duration_ms=0,
            upstream_host="",
            cluster="",
            flags=[flag],
            remote_address=self.conn.remote_address,
            route="",
            end="local_reply",
            tls=self.conn.ssl,
        )
        access_log.emit(self.ctx, self.config.access_log, record)

    def _count_streamless_request(self, ev: ProtocolViolation) -> None:
        """A request the codec answered before it became a stream (a refused head, a head that timed
        out) is still a request: Envoy's HTTP/1 codec makes the stream at the request's first byte (and
        one for the error reply when none exists), so downstream_rq_total counts every request answered,
        and a status counter never exceeds it. It ends as a local reply."""
        stream = self.streams.get(ev.stream_id) if ev.stream_id is not None else None
        if stream is None or stream.ended:
            for name in ("downstream_rq_total", "downstream_rq_http1", "local_replies"):
                self.stats.inc(name)

    def count_response(self, status: int) -> None:
        """HCM statistics: downstream_rq_<code> and downstream_rq_<N>xx, per final response head sent
        (a stream reset after its head still counts, as in Envoy)."""
        self.stats.inc(f"downstream_rq_{status}")
        self.stats.inc(f"downstream_rq_{status // 100}xx")

    def _new_stream(self, ev: RequestHeaders) -> None:
        if self._idle_timer is not None:
            self._idle_timer.disable()
        stream = ActiveStream(self, ev)
        self.streams[ev.stream_id] = stream
        self.stats.inc("downstream_rq_total")
        self.stats.gauge_add("downstream_rq_active", 1)
        self.stats.inc("downstream_rq_http2" if ev.http_version == b"2" else "downstream_rq_http1")
        if self.config.request_timeout_ms:
            stream.arm_request_timeout(self.config.request_timeout_ms)
        if self.config.stream_idle_timeout_ms:
            stream.arm_idle_timeout(self.config.stream_idle_timeout_ms)
        if self.conn.write_buffer.above_high_watermark:
            # A stream born while its client is backed up starts paused, as Envoy's newStream does
            # (callHighWatermarkCallbacks): the pause came before it, and its response went into the
            # full write buffer whole (1 MB behind a 1 KiB limit for a keep-alive client not reading).
            stream.chain.on_downstream_watermark(True)
        if stream.head.byte_size() > self.config.max_request_headers_bytes:
            self.stats.inc("downstream_rq_header_too_large")
            stream.chain.decoding_stopped = True
            stream.chain.send_local_reply(431, b"request headers too large\n")
            return
        if self._refuse_underscores(stream, stream.head.headers) or self._refuse_path(stream):
            return
        if ev.expect_continue:
            self.codec.send_headers(ev.stream_id, 100, [])
        stream.chain.decode_headers(stream.head, ev.end_stream)

    def _refuse_underscores(self, stream: ActiveStream, fields: HeaderMap) -> bool:
        """Envoy's headers_with_underscores_action on request header or trailer fields: DROP_HEADER
        removes them before the filters see them, REJECT_REQUEST answers 400 (a reset once the
        response has started). True when the stream was answered here."""
        names = [n for n, _ in fields if b"_" in n] if self.config.underscores != "ALLOW" else ()
        if not names:
            return False
        if self.config.underscores == "DROP_HEADER":
            self.stats.inc("dropped_headers_with_underscores", len(names))
            for name in set(names):
                fields.remove(name)
            return False
        self.stats.inc("requests_rejected_with_underscores_in_headers")
        stream.chain.decoding_stopped = True
        stream.chain.send_local_reply(400, b"header name with an underscore\n")
        return True

    def _refuse_path(self, stream: ActiveStream) -> bool:
        """Envoy's path options before filters and routing (proxy/http/path.py): the path is
        rewritten, or the request answered with 400 or a 307 to the unescaped path."""
        outcome = apply_path_options(stream.head.path, self.config.path_options)
        stream.head.path = outcome.path
        if outcome.action == "forward":
            return False
        stream.chain.decoding_stopped = True
        if outcome.action == "reject":
            self.stats.inc("downstream_rq_failed_path_normalization")
            stream.chain.send_local_reply(400, b"escaped slash in the path\n")
        else:
            self.stats.inc("downstream_rq_redirected_with_normalized_path")
            stream.chain.send_local_reply(307, b"", headers=[(b"location", outcome.path)])
        return True

    # -- stream ends -------------------------------------------------------------------------------------------
    def stream_ended(self, stream: ActiveStream) -> None:
        if self.streams.get(stream.stream_id) is stream:
            del self.streams[stream.stream_id]
        if not self.streams and self._idle_timer is not None and not self.closed:
            self._idle_timer.enable(self.config.idle_timeout_ms)
        if not self.streams and self._going_away and self.conn.is_open and self._buffered_outbound():
            self._watch_held_output()
        self._watch_request_start()

    # -- output ------------------------------------------------------------------------------------------------
    def flush(self) -> None:
        if self.codec is None:
            return
        conn = self.conn
        self.codec.note_unwritten(len(conn.write_buffer))
        out = self.codec.data_to_send()
        if out and conn.is_open:
            conn.write(out)
        self._export_codec_stats()
        if self.codec.wants_close and conn.is_open:
            close_type = CloseType.NO_FLUSH if self.codec.close_unflushed else CloseType.FLUSH_WRITE
            conn.close(close_type, cut_short=self.codec.close_cuts_response)

    def _export_codec_stats(self) -> None:
        stats = self.codec.stats
        if stats == self._exported:
            return
        for name, value in stats.items():
            delta = value - self._exported.get(name, 0)
            if delta:
                self.stats.inc(name, delta)
        self._exported = dict(stats)

    # -- backpressure from the client -----------------------------------------------------------------------------
    def _buffered_outbound(self, stream_id: int | None = None) -> int:
        """Response bytes waiting for the client on one stream, or on all (None): HTTP/2, for its
        windows; HTTP/1.1, queued behind earlier pipelined responses."""
        codec = getattr(self.codec, "_inner", None) or self.codec
        if stream_id is None:
            measure = getattr(codec, "buffered_outbound_total", None)
            return measure() if measure is not None else 0
        measure = getattr(codec, "buffered_outbound", None)
        return measure(stream_id) if measure is not None else 0

    def check_slow_client(self, stream: ActiveStream) -> None:
        """Pause the stream's response while it holds more than the buffer limit for its client
        ("stream"), or holds anything while the connection's streams together hold more ("connection")."""
        if stream.slow_client:
            return
        own = self._buffered_outbound(stream.stream_id)
        if own > stream.buffer_limit:
            stream.slow_client = "stream"
        elif own and self._buffered_outbound() > self.conn.buffer_limit:
            stream.slow_client = "connection"
        else:
            return
        self._slow_streams = True
        stream.chain.on_downstream_watermark(True)

    def _check_slow_clients(self) -> None:
        """Resume a stream paused for its own bytes once they are down to half the limit, one paused
        for the connection's once its client took all of its bytes: only the client's progress, never
        room another stream's end made, lets a stalled stream read more (and look active)."""
        if not self._slow_streams:
            return
        total, paused = self._buffered_outbound(), False
        for stream in list(self.streams.values()):
            if not stream.slow_client:
                continue
            own = self._buffered_outbound(stream.stream_id)
            if stream.slow_client == "stream" and own <= stream.buffer_limit // 2:
                stream.slow_client = "connection" if own and total > self.conn.buffer_limit else False
            elif stream.slow_client == "connection" and not own:
                stream.slow_client = False
            if stream.slow_client:
                paused = True
            else:
                stream.chain.on_downstream_watermark(False)
        self._slow_streams = paused

    def on_above_write_buffer_high_watermark(self) -> None:
        for stream in list(self.streams.values()):
            stream.chain.on_downstream_watermark(True)

    def on_below_write_buffer_low_watermark(self) -> None:
        for stream in list(self.streams.values()):
            stream.chain.on_downstream_watermark(False)

    # -- connection events and timers -----------------------------------------------------------------------------
    def on_event(self, event) -> None:
        if event is ConnectionEvent.CONNECTED or self.closed:
            return
        self.closed = True
        self.ctx.drain_callbacks.discard(self._on_drain)
        for timer in (self._idle_timer, self._held_timer, self._head_timer):
            if timer is not None:
                timer.disable()
        for stream in list(self.streams.values()):
            stream.peer_gone("connection closed")
        self._export_codec_stats()
        if self.conn.stream_info.get("delayed_close_timeout"):
            self.stats.inc("downstream_cx_delayed_close_timeout")
        self.stats.gauge_add("downstream_cx_active", -1)

    def _on_drain(self) -> None:
        """The server drains: requests in flight finish, then the connection closes (HTTP/1.1:
        `connection: close` on the last response; HTTP/2: GOAWAY naming the last stream)."""
        if self.closed or not self.conn.is_open:
            return
        self._go_away("downstream_cx_drain_close")

    def _on_idle_timeout(self) -> None:
        # A connection already closing (a protocol error's reply waiting for its client) did not close
        # for being idle: Envoy's doConnectionClose disables the idle timer as the close begins.
        if self.streams or self.closed or not self.conn.is_open:
            return
        self._go_away("downstream_cx_idle_timeout")

    def _watch_request_start(self) -> None:
        """A request whose head is still arriving, with no stream active, is a request in flight, as
        in Envoy (whose HTTP/1 codec makes the stream at the request's first byte): the connection's
        idle timeout does not cut it, and the stream idle timeout bounds it from its first byte (a
        408 and a close, http.downstream_rq_idle_timeout). Before, a head trickled slower than
        idle_timeout_ms was cut, and with idle_timeout_ms 0 (the default) a head that never ended
        held its connection with no timer at all (slowloris)."""
        if self.closed or self.streams or not self.codec.request_started:
            if self._head_pending:
                self._head_pending = False
                if self._head_timer is not None:
                    self._head_timer.disable()
                if not self.streams and not self.closed and self._idle_timer is not None:
                    self._idle_timer.enable(self.config.idle_timeout_ms)  # the head went without a stream
            return
        if self._head_pending:
            return  # its timer runs from the head's first byte
        self._head_pending = True
        if self._idle_timer is not None:
            self._idle_timer.disable()
        if self.config.stream_idle_timeout_ms:
            if self._head_timer is None:
                self._head_timer = self.ctx.dispatcher.create_timer(self._on_head_timeout)
            self._head_timer.enable(self.config.stream_idle_timeout_ms)

    def _on_head_timeout(self) -> None:
        if self.closed or self.streams or not self.codec.request_started or not self.conn.is_open:
            return
        self.stats.inc("downstream_rq_idle_timeout")
        status = self.codec.time_out_request()
        timed_out = ProtocolViolation("request head timed out", status=status)
        if status is not None:
            self.count_response(status)
            self._count_streamless_request(timed_out)
        self._log_codec_reply(timed_out, "SI")
        self.flush()

    def _go_away(self, stat: str) -> None:
        """Ask the client to go away; close now unless streams are still in flight."""
        self.stats.inc(stat)
        self._going_away = True
        self.codec.goaway()
        self.flush()
        # A stream done here may still have output its codec holds for the client's window: the
        # codec asks to close once that is out (wants_close), as it does for streams in flight. A
        # request head still arriving is in flight too (_watch_request_start's timer bounds it).
        if not self.streams and self.conn.is_open and not self.codec.request_started:
            if self._buffered_outbound():
                self._watch_held_output()
            else:
                self.conn.close(CloseType.FLUSH_WRITE)

    def _watch_held_output(self) -> None:
        """Going away with no stream left, the connection waits only for output the client's HTTP/2
        window holds. A client that takes none of it for DELAYED_CLOSE_TIMEOUT_MS is closed (the
        stat of a delayed close timeout), as Envoy's drain ends in a delayed close: a client that
        never opens its window would otherwise hold the connection for good."""
        self._held = self._buffered_outbound()
        if self._held_timer is None:
            self._held_timer = self.ctx.dispatcher.create_timer(self._on_held_output_timeout)
        self._held_timer.enable(DELAYED_CLOSE_TIMEOUT_MS)

    def _on_held_output_timeout(self) -> None:
        if self.closed or self.streams or not self.conn.is_open:
            return
        held = self._buffered_outbound()
        if held and held < self._held:
            self._watch_held_output()  # the client took some: it gets another grace period
        elif held:
            self.conn.stream_info["delayed_close_timeout"] = True
            self.conn.close(CloseType.NO_FLUSH)
