"""The router: the terminal HTTP filter. Routes the request, sends it upstream, encodes the response.

Per request:
  * no route: 404 (response flag NR); a direct response: answered here;
  * a cluster is chosen (weighted clusters drawn from the instance's seeded random) and a stream
    requested from its pool (proxy/upstream/pool.py): circuit breaker open -> 503 UO; connect
    failure or connect timeout -> up to `retry_policy.num_retries` new attempts (the body is still
    all here: nothing was sent), then 503 UF;
  * the body streams upstream as it arrives; while no upstream stream exists it is held here, and
    above the buffer limit downstream reads are paused (and HTTP/2 data goes unacknowledged);
  * the route timeout (default 15 s, 0: none) runs from the end of the request to the end of the
    response (Envoy's RouteAction.timeout: "when the upstream response has been completely
    processed"): 504 UT, or a reset once the response started;
  * the upstream fails before the response headers: 503 with the pool's flag (UR a reset or refused
    stream, UC its connection ended, UPE it broke HTTP); after: the downstream stream is reset;
  * backpressure both ways: upstream write buffer above its high watermark pauses the request
    body; the client reading slowly pauses the upstream response.

Stats `cluster.<name>.`: upstream_rq_retry, upstream_rq_timeout, upstream_rq_<status>.
"""

from ...buffer import Buffer
from ...context import ServerContext
from ...event import Timer
from ...upstream.pool import PendingRequest, http_pools
from ...upstream.pool_conn import UpstreamStream
from ..codec import HeaderListTooLarge
from ..filter import STOP_ITERATION, StreamFilter
from ..message import HeaderMap, RequestHead, ResponseHead
from ..route import Route


class Router(StreamFilter):
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.route: Route | None = None
        self.cluster: str | None = None
        self.head: RequestHead | None = None
        self.request_end = False
        self.trailers: HeaderMap | None = None
        self.body = Buffer()  # request body not yet sent upstream
        self.pending: PendingRequest | None = None  # while waiting for the pool
        self.upstream: UpstreamStream | None = None  # once the pool gave one
        self.attempts = 0
        self.response_started = False
        self.response_done = False
        self.done = False
        self._timer: Timer | None = None
        self._reads_paused = False  # holds one disable_downstream_reads(True) for the body buffer
        self._upstream_paused = False  # holds one for the upstream write watermark
        self._downstream_slow = 0

    # -- decoding ---------------------------------------------------------------------------------------
    def decode_headers(self, head, end_stream):
        cb = self.decoder_callbacks
        route = self.route = cb.route()
        if route is None:
            cb.send_local_reply(404, b"no route\n", flags="NR")
            return STOP_ITERATION
        if route.is_direct:
            cb.stream_info["route_name"] = route.name
            cb.send_local_reply(route.direct_status, route.direct_body)
            return STOP_ITERATION
        cb.stream_info["route_name"] = route.name
        self.cluster = route.pick_cluster(self.ctx.random)
        cb.stream_info["upstream_cluster"] = self.cluster
        self.head = head
        self.request_end = end_stream
        if end_stream:
            self._start_timeout()
        self._attempt()
        return STOP_ITERATION

    def decode_data(self, data, end_stream):
        if self.done:
            data.drain(len(data))
            return STOP_ITERATION
        if end_stream:
            self.request_end = True
        if self.upstream is not None:
            self.upstream.send_data(data.take(), end_stream)
        else:
            self.body.move_from(data)
            self._pause_if_buffer_full()
        if end_stream:
            self._start_timeout()
        return STOP_ITERATION

    def decode_trailers(self, trailers):
        if self.done:
            return STOP_ITERATION
        self.request_end = True
        if self.upstream is not None:
            self._send_trailers(list(trailers))
        else:
            self.trailers = trailers
        self._start_timeout()
        return STOP_ITERATION

    # -- the pool ---------------------------------------------------------------------------------------
    def _attempt(self) -> None:
        self.attempts += 1
        assert self.cluster is not None, "decode_headers picked the cluster"
        pool = http_pools(self.ctx).get(self.cluster)
        if pool is None:  # a route naming a cluster this instance does not have (build checks this)
            self._local_reply(503, b"unknown cluster\n", "NC")
            return
        self.pending = pool.new_stream(self)

    def on_pool_failure(self, reason: str, flag: str) -> None:
        pending, self.pending = self.pending, None
        if self.done:
            return
        retries = self.route.num_retries if self.route is not None else 0
        if reason in ("connect_failure", "connect_timeout") and self.attempts <= retries:
            self.ctx.stats.inc(f"cluster.{self.cluster}.upstream_rq_retry")
            self.decoder_callbacks.dispatcher.post(self._retry)
            return
        if pending is not None and flag == "UF":
            # The host whose connection failed, as Envoy's %UPSTREAM_HOST% names it (onPoolFailure
            # reports the host): else a UF record could not say which endpoint is down.
            self.decoder_callbacks.stream_info["upstream_host"] = str(pending.host)
        self.decoder_callbacks.stream_info["upstream_failure"] = reason
        body = b"upstream overflow\n" if flag == "UO" else b"upstream connect error\n"
        self._local_reply(503, body, flag)

    def _retry(self) -> None:
        if not self.done and self.upstream is None and self.pending is None:
            self._attempt()

    def on_pool_ready(self, stream) -> None:
        self.pending = None
        if self.done:
            stream.reset()
            return
        self.upstream = stream
        # Pauses the client asked for before this upstream existed hold for it too, one per pause, so
        # that each resume undoes one (Envoy's addDownstreamWatermarkCallbacks replays the count):
        # else the first resume re-enabled reads that a later pause still wanted stopped.
        for _ in range(self._downstream_slow):
            stream.read_disable(True)
        cb = self.decoder_callbacks
        cb.stream_info["upstream_host"] = str(stream.host)
        h = self.head
        assert h is not None, "the pool is asked for a stream after the request headers"
        authority = h.authority or str(stream.host).encode()
        body_end = self.request_end and self.trailers is None
        headers_end = body_end and not len(self.body)
        try:
            # :scheme is the client's (RFC 9113 8.3.1: the target URI's), as Envoy forwards it.
            stream.send_headers(h.method, h.path, authority, list(h.headers), headers_end, h.scheme.lower())
        except HeaderListTooLarge:
            self._too_large_for_upstream()
            return
        if len(self.body) or (body_end and not headers_end):
            stream.send_data(self.body.take(), body_end)
        if self.trailers is not None and not stream.closed:
            self._send_trailers(list(self.trailers))
        self._resume_reads_for_buffer()

    def _send_trailers(self, trailers) -> None:
        assert self.upstream is not None, "trailers go upstream once there is a stream"
        try:
            self.upstream.send_trailers(trailers)
        except HeaderListTooLarge:
            self._too_large_for_upstream()

    def _too_large_for_upstream(self) -> None:
        """RFC 9113 6.5.2: the upstream accepts no header (or trailer) section this large: nothing of
        it was sent; the exchange is abandoned and the client told so (431), or reset once answered.
        No response flag: the upstream broke no protocol (UPE's meaning), it was never asked
        (docs/semantics.md: Envoy sends the section anyway)."""
        self.ctx.stats.inc(f"cluster.{self.cluster}.upstream_rq_header_list_too_large")
        self._abandon_upstream()
        if self.response_started:
            self.done = True
            self.decoder_callbacks.reset_stream("request section too large for the upstream")
        else:
            self._local_reply(431, b"request headers too large for the upstream\n", "")

    # -- the response -------------------------------------------------------------------------------------
    def on_upstream_headers(self, status, headers, end_stream, http_version) -> None:
        if self.done:
            return
        self.response_started = True
        self.ctx.stats.inc(f"cluster.{self.cluster}.upstream_rq_{status}")
        self.ctx.stats.inc(f"cluster.{self.cluster}.upstream_rq_{status // 100}xx")  # Envoy's aggregate classes
        if end_stream:
            self._response_complete()
        self.decoder_callbacks.encode_headers(ResponseHead(status, HeaderMap(headers), http_version), end_stream)

    def on_upstream_data(self, data, end_stream) -> None:
        if self.done and not self.response_started:
            return
        if end_stream:
            self._response_complete()
        self.decoder_callbacks.encode_data(data, end_stream)

    def on_upstream_trailers(self, headers) -> None:
        if self.done and not self.response_started:
            return
        self._response_complete()
        self.decoder_callbacks.encode_trailers(HeaderMap(headers))

    def on_upstream_reset(self, reason: str, flag: str = "UR") -> None:
        self.upstream = None
        if self.done:
            return
        cb = self.decoder_callbacks
        cb.stream_info["upstream_failure"] = reason
        if self.response_started:
            self.done = True
            cb.reset_stream(f"upstream reset after the response started: {reason}", flag)
        else:
            self._local_reply(503, b"upstream reset\n", flag)

    def _response_complete(self) -> None:
        self.response_done = True
        self.done = True
        self._stop_timeout()
        up = self.upstream
        if up is not None and not self.request_end:
            # The response is complete while the request still streams: abandon the upload.
            up.reset()
            self.upstream = None

    # -- flow control -----------------------------------------------------------------------------------
    def on_upstream_write_watermark(self, above: bool) -> None:
        if above != self._upstream_paused:
            self._upstream_paused = above
            self.decoder_callbacks.disable_downstream_reads(above)

    def _pause_if_buffer_full(self) -> None:
        if not self._reads_paused and len(self.body) > self.decoder_callbacks.buffer_limit:
            self._reads_paused = True
            self.decoder_callbacks.disable_downstream_reads(True)

    def _resume_reads_for_buffer(self) -> None:
        if self._reads_paused:
            self._reads_paused = False
            self.decoder_callbacks.disable_downstream_reads(False)

    def on_downstream_above_write_watermark(self) -> None:
        self._downstream_slow += 1
        if self.upstream is not None:
            self.upstream.read_disable(True)

    def on_downstream_below_write_watermark(self) -> None:
        if self._downstream_slow:
            self._downstream_slow -= 1
            if self.upstream is not None:
                self.upstream.read_disable(False)

    # -- timeouts and the end ------------------------------------------------------------------------------
    def _start_timeout(self) -> None:
        ms = self.route.timeout_ms if self.route is not None else 0
        if ms and self._timer is None and not self.done:
            self._timer = self.decoder_callbacks.dispatcher.create_timer(self._on_timeout)
            self._timer.enable(ms)

    def _stop_timeout(self) -> None:
        if self._timer is not None:
            self._timer.disable()

    def _on_timeout(self) -> None:
        if self.done:
            return
        self.ctx.stats.inc(f"cluster.{self.cluster}.upstream_rq_timeout")
        self._abandon_upstream()
        if self.response_started:
            # The timer spans the whole response, not only its head: a body the upstream stalls
            # ends here (the client hears a reset) instead of holding the stream until
            # stream_idle_timeout (5 min by default).
            self.done = True
            self.decoder_callbacks.reset_stream("route timeout after the response started", "UT")
            return
        self._local_reply(504, b"upstream request timeout\n", "UT")

    def _local_reply(self, status: int, body: bytes, flag: str) -> None:
        self.done = True
        self.decoder_callbacks.send_local_reply(status, body, flags=flag)

    def _abandon_upstream(self) -> None:
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None
        if self.upstream is not None:
            up, self.upstream = self.upstream, None
            if not up.closed:
                up.reset()

    def on_destroy(self) -> None:
        self.done = True
        self._stop_timeout()
        self._abandon_upstream()
        # Read-disable holds die with the stream: the connection manager releases them.
        self._reads_paused = self._upstream_paused = False
