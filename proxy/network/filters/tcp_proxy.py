"""tcp_proxy: the terminal L4 filter. Connects each downstream connection to an upstream host
of a cluster and moves bytes both ways (Envoy's TcpProxy::Filter semantics).

* Downstream reads are disabled from install until the upstream connects (nothing is read
  that could not be forwarded); a connect failure or timeout closes the downstream
  (NoFlush, `upstream_cx_connect_fail`).
* on_data moves the whole downstream read buffer to the upstream (draining it) and returns
  STOP_ITERATION; upstream data is written downstream the same way.
* Half close both ways: both connections have half close enabled; an end of stream read on
  one side is written to the other once, after all bytes before it.
* Backpressure both ways: one side's write buffer above its high watermark read-disables the
  other side, and below its low watermark re-enables it (each pause has exactly one resume).
* A side that closes closes the other: with FlushWrite when it ended cleanly (RemoteClose, or
  both directions half-closed) so no byte already read is lost; with NoFlush otherwise. When
  both directions have ended, the other side is left to close itself once it has flushed.
* idle_timeout_ms: both sides are closed (NoFlush, `idle_timeout`) after that long without
  bytes read on either side or flushed to either peer. Reads re-arm it exactly; flushes are
  noticed when it expires (there is no bytes-sent callback), extending it from that moment.

Counters `tcp_proxy.` (and `tcp_proxy.<stat_prefix>.`): downstream_cx_total,
upstream_cx_total, upstream_cx_connect_fail, upstream_cx_overflow (circuit breaker or unknown
cluster), idle_timeout, downstream_bytes_rx / upstream_bytes_tx / downstream_bytes_dropped
(rx == tx + dropped; dropped are bytes read after the upstream was gone), and the mirror
upstream_bytes_rx / downstream_bytes_tx / upstream_bytes_dropped,
{downstream,upstream}_flow_control_{paused,resumed}_reading_total.
"""

from dataclasses import dataclass

from ...buffer import Buffer
from ...build_context import BuildContext
from ...upstream.lb import pick_weighted
from ...event import Timer
from ..connection import CloseType, Connection, ConnectionEvent, State
from ..filter import STOP_ITERATION, ConnectionCallbacks, ReadFilter
from ..registry import register_network_filter
from ._stats import FilterStats, stat_scopes


@dataclass(frozen=True, eq=False)
class TcpProxyConfig:
    clusters: tuple  # ((name, weight), ...); one cluster is ((name, 1),)
    total_weight: int
    idle_timeout_ms: int
    stat_scopes: tuple

    def pick_cluster(self, rng) -> str:
        return pick_weighted(self.clusters, self.total_weight, rng)


@register_network_filter("tcp_proxy")
def tcp_proxy_factory(msg, build: BuildContext):
    if msg.WhichOneof("cluster_specifier") == "weighted_clusters":
        clusters = tuple((w.name, w.weight) for w in msg.weighted_clusters.clusters)
        field = "weighted_clusters.clusters"
    else:
        clusters = ((msg.cluster, 1),)
        field = "cluster"
    for name, _ in clusters:
        if name not in build.clusters:
            raise build.error(f"unknown cluster {name!r}", field)
    total = sum(w for _, w in clusters)
    if total <= 0:
        raise build.error("the weights must not all be 0", field)
    config = TcpProxyConfig(
        clusters=tuple((n, w) for n, w in clusters if w > 0),
        total_weight=total,
        idle_timeout_ms=msg.idle_timeout_ms,
        stat_scopes=stat_scopes("tcp_proxy", msg.stat_prefix),
    )

    def install(connection, ctx):
        connection.add_read_filter(TcpProxyFilter(config, ctx))

    return install


class _Side(ConnectionCallbacks):
    """Connection callbacks of one side, forwarded to the filter with the side's name."""

    __slots__ = ("proxy", "downstream")

    def __init__(self, proxy, downstream: bool) -> None:
        self.proxy, self.downstream = proxy, downstream

    def on_event(self, event) -> None:
        if self.downstream:
            self.proxy._on_downstream_event(event)
        else:
            self.proxy._on_upstream_event(event)

    def on_above_write_buffer_high_watermark(self) -> None:
        self.proxy._pause_reading(of_downstream=not self.downstream)

    def on_below_write_buffer_low_watermark(self) -> None:
        self.proxy._resume_reading(of_downstream=not self.downstream)


class _UpstreamReader(ReadFilter):
    """The upstream connection's only read filter: hands its data to the tcp_proxy."""

    __slots__ = ("proxy",)

    def __init__(self, proxy) -> None:
        self.proxy = proxy

    def on_data(self, data, end_stream):
        self.proxy._on_upstream_data(data, end_stream)
        return STOP_ITERATION


class TcpProxyFilter(ReadFilter):
    downstream: Connection  # set by initialize_read_filter_callbacks, before any event

    def __init__(self, config: TcpProxyConfig, ctx) -> None:
        self.config = config
        self.ctx = ctx
        self.stats = FilterStats(ctx.stats, config.stat_scopes)
        self.upstream: Connection | None = None
        self.host = None
        self._waiting_for_upstream = False  # holds one read_disable(True) on the downstream
        self._early_data: Buffer | None = None  # bytes injected to us before the upstream connected
        self._early_end_stream = False  # downstream end_stream seen before the upstream connected
        self._end_sent_upstream = False
        self._end_sent_downstream = False
        self._paused = {True: False, False: False}  # of_downstream -> we hold a read_disable(True)
        self._idle_timer: Timer | None = None
        self._last_activity_ms = 0
        self._flushed_snapshot = 0

    @property
    def end_sent_upstream(self) -> bool:
        """The downstream's end of stream was relayed to the upstream (read-only, for observers)."""
        return self._end_sent_upstream

    # -- downstream ------------------------------------------------------------------------

    def initialize_read_filter_callbacks(self, callbacks) -> None:
        super().initialize_read_filter_callbacks(callbacks)
        conn = self.downstream = callbacks.connection
        conn.enable_half_close(True)
        conn.add_connection_callbacks(_Side(self, downstream=True))
        # Nothing is read before there is an upstream to send it to.
        conn.read_disable(True)
        self._waiting_for_upstream = True

    def on_new_connection(self):
        self.stats.inc("downstream_cx_total")
        name = self.config.pick_cluster(self.ctx.random)
        manager = self.ctx.cluster_manager
        result = manager.tcp_conn_for_cluster(name) if manager is not None else None
        if result is None:
            self.stats.inc("upstream_cx_overflow")
            self.downstream.stream_info["failure"] = "no_upstream"
            self.downstream.close(CloseType.NO_FLUSH)
            return STOP_ITERATION
        self.stats.inc("upstream_cx_total")
        upstream, self.host = result
        self.upstream = upstream
        # Oracles pair the two sides through stream_info (fuzz/session.py: bytes neither lost nor invented).
        self.downstream.stream_info["upstream_connection"] = upstream
        self.downstream.stream_info["terminal"] = "tcp_proxy"
        upstream.enable_half_close(True)
        upstream.add_connection_callbacks(_Side(self, downstream=False))
        upstream.add_read_filter(_UpstreamReader(self))
        upstream.initialize_read_filters()
        if self._paused[False]:
            upstream.read_disable(True)
        if upstream.state is State.CLOSED:  # failed before our callbacks were registered
            self._on_upstream_event(upstream.close_event)
        return STOP_ITERATION

    def on_data(self, data, end_stream):
        upstream = self.upstream
        if upstream is None or not upstream.connected:
            # Reads are disabled until the upstream connects, so only an earlier filter injecting
            # data (or a transport breaking its contract) gets here: keep the bytes for later.
            if data is not self.downstream.read_buffer:
                if self._early_data is None:
                    self._early_data = Buffer()
                self._early_data.move_from(data)
            self._early_end_stream |= end_stream
            return STOP_ITERATION
        self._forward(data, end_stream, to_upstream=True)
        return STOP_ITERATION

    def _on_downstream_event(self, event) -> None:
        if event is ConnectionEvent.CONNECTED:
            return
        self._disable_idle_timer()
        upstream = self.upstream
        if upstream is None or upstream.state is State.CLOSED:
            return
        if not upstream.connected:
            upstream.close(CloseType.NO_FLUSH)
            return
        down = self.downstream
        clean = event is ConnectionEvent.REMOTE_CLOSE or (down.read_end_stream and down.write_end_stream)
        self._close_other_side(upstream, clean)

    @staticmethod
    def _close_other_side(conn, clean: bool) -> None:
        if conn.state is State.CLOSED:
            return
        if clean and conn.read_end_stream and conn.write_end_stream:
            # Both directions ended here too: it closes itself once its bytes and its end of
            # stream are flushed (closing it now could cut the end of stream off).
            return
        conn.close(CloseType.FLUSH_WRITE if clean else CloseType.NO_FLUSH)

    # -- upstream --------------------------------------------------------------------------

    def _on_upstream_event(self, event) -> None:
        down, upstream = self.downstream, self.upstream
        assert upstream is not None, "upstream events come from the upstream connection"
        if event is ConnectionEvent.CONNECTED:
            if down.state is State.CLOSED:
                upstream.close(CloseType.NO_FLUSH)
                return
            self._arm_idle_timer()
            if self._waiting_for_upstream:
                self._waiting_for_upstream = False
                down.read_disable(False)  # re-dispatches anything buffered
            if self._early_data is not None and len(self._early_data):
                self._forward(self._early_data, False, to_upstream=True)
            if self._early_end_stream:
                self._forward(down.read_buffer, True, to_upstream=True)
            return
        self._disable_idle_timer()
        if down.state is State.CLOSED:
            return  # we closed it (the downstream went away first): not a connect failure
        if not upstream.connected:
            self.stats.inc("upstream_cx_connect_fail")
            down.stream_info["failure"] = upstream.stream_info.get("failure", "connect_failed")
            down.close(CloseType.NO_FLUSH)
            return
        self._close_other_side(down, clean=True)  # Envoy: an upstream close flushes the downstream

    def _on_upstream_data(self, data, end_stream) -> None:
        self._forward(data, end_stream, to_upstream=False)

    # -- both ------------------------------------------------------------------------------

    def _forward(self, buffer, end_stream: bool, to_upstream: bool) -> None:
        """Move the whole `buffer` (a read buffer) to the other side's write path."""
        if to_upstream:
            src, dst, already_ended = "downstream", self.upstream, self._end_sent_upstream
        else:
            src, dst, already_ended = "upstream", self.downstream, self._end_sent_downstream
        dst_name = "upstream" if to_upstream else "downstream"
        chunk = buffer.take()
        if chunk:
            self.stats.inc(f"{src}_bytes_rx", len(chunk))
            self._last_activity_ms = self.ctx.dispatcher.now_ms()
        writable = dst is not None and dst.is_open and not dst.write_end_stream and not already_ended
        if dst is None or not writable:
            if chunk:
                self.stats.inc(f"{src}_bytes_dropped", len(chunk))
            return
        if chunk or end_stream:
            if end_stream:
                if to_upstream:
                    self._end_sent_upstream = True
                else:
                    self._end_sent_downstream = True
            dst.write(chunk, end_stream)
            if chunk:
                self.stats.inc(f"{dst_name}_bytes_tx", len(chunk))

    def _pause_reading(self, of_downstream: bool) -> None:
        if self._paused[of_downstream]:
            return
        self._paused[of_downstream] = True
        conn = self.downstream if of_downstream else self.upstream
        # A downstream backed up before the upstream exists (an earlier filter wrote to it) is
        # remembered: on_new_connection pauses the upstream as soon as it is created.
        if conn is not None:
            conn.read_disable(True)
        self.stats.inc(("downstream" if of_downstream else "upstream") + "_flow_control_paused_reading_total")

    def _resume_reading(self, of_downstream: bool) -> None:
        if not self._paused[of_downstream]:
            return
        self._paused[of_downstream] = False
        conn = self.downstream if of_downstream else self.upstream
        if conn is not None:
            conn.read_disable(False)
        self.stats.inc(("downstream" if of_downstream else "upstream") + "_flow_control_resumed_reading_total")

    # -- idle timeout ----------------------------------------------------------------------

    def _flushed_bytes(self) -> int:
        return self.downstream.bytes_sent + (self.upstream.bytes_sent if self.upstream is not None else 0)

    def _arm_idle_timer(self) -> None:
        if not self.config.idle_timeout_ms:
            return
        self._last_activity_ms = self.ctx.dispatcher.now_ms()
        self._flushed_snapshot = self._flushed_bytes()
        timer = self._idle_timer = self.ctx.dispatcher.create_timer(self._on_idle_timer)
        timer.enable(self.config.idle_timeout_ms)

    def _disable_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.disable()

    def _on_idle_timer(self) -> None:
        now = self.ctx.dispatcher.now_ms()
        flushed = self._flushed_bytes()
        if flushed != self._flushed_snapshot:
            self._flushed_snapshot = flushed
            self._last_activity_ms = now
        remaining = self._last_activity_ms + self.config.idle_timeout_ms - now
        if remaining > 0:
            assert self._idle_timer is not None, "the idle timer is what fired"
            self._idle_timer.enable(remaining)
            return
        self.stats.inc("idle_timeout")
        self.downstream.stream_info["failure"] = "idle_timeout"
        if self.upstream is not None:
            self.upstream.output_abandoned = True
            self.upstream.close(CloseType.NO_FLUSH)
        self.downstream.output_abandoned = True  # nothing moved: a peer that reads nothing holds no socket
        self.downstream.close(CloseType.NO_FLUSH)
