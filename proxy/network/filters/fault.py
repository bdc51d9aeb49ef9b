"""fault: network fault injection: hold a connection back, or throttle what it forwards.

delay_ms: the first on_new_connection returns STOP_ITERATION and arms a timer; until it
fires every on_data returns STOP_ITERATION too (bytes stay in the connection's read buffer,
whose watermark back-pressures the peer). When the timer fires, `continue_reading()` resumes
the filters after this one with the whole buffer: never from inside this filter's own
callbacks. Before tcp_proxy, whose reads stay disabled until its upstream connects, the
upstream is connected only after the delay, so the first byte reaches it delay_ms later.

throttle_bytes_per_sec (downstream -> upstream only: the read path): at most N bytes reach
the later filters per 1000 ms window, windows counted from on_new_connection. Method:
*draining portions*. On data that fits the window's remaining budget this filter returns
CONTINUE (the terminal filter after it drains the buffer, as every valid chain's last filter
does). Otherwise it returns STOP_ITERATION and releases the buffer's front, at most the
budget, with `inject_read_data_to_filter_chain` from a posted callback or the next window's
timer, never from inside on_data. Held bytes stay in the connection's read buffer, so the
read watermark keeps the peer's bytes bounded; while the connection's reads are disabled by
someone else (tcp_proxy backpressure) nothing is released, and the re-enable re-dispatches.
The end of stream travels with the last held byte.

Counters `fault.`: delays_injected, throttle_holds (on_data calls that held bytes back),
throttled_bytes_released (bytes released by the throttle after a hold).
"""

from dataclasses import dataclass

from ...build import BuildContext
from ..filter import CONTINUE, STOP_ITERATION, ReadFilter
from ..registry import register_network_filter
from ._stats import FilterStats, stat_scopes

WINDOW_MS = 1000


@dataclass(frozen=True, eq=False)
class FaultConfig:
    delay_ms: int
    throttle_bytes_per_sec: int
    stat_scopes: tuple


@register_network_filter("fault")
def fault_factory(msg, build: BuildContext):
    config = FaultConfig(delay_ms=msg.delay_ms, throttle_bytes_per_sec=msg.throttle_bytes_per_sec,
                         stat_scopes=stat_scopes("fault"))

    def install(connection, ctx):
        connection.add_read_filter(FaultFilter(config, ctx))
    return install


def _chain_reads_now(conn) -> bool:
    """Would the connection hand read data to its filters now? (Only its own read-buffer
    watermark, or nothing, disables reading.)"""
    count = conn.read_disable_count
    return count == 0 or (count == 1 and conn.read_buffer.above_high_watermark)


class FaultFilter(ReadFilter):
    def __init__(self, config: FaultConfig, ctx) -> None:
        self.config = config
        self.ctx = ctx
        self.stats = FilterStats(ctx.stats, config.stat_scopes)
        self._delaying = False
        self._start_ms = 0
        self._window = -1
        self._budget = 0
        self._release_queued = False
        self._end_released = False
        self._timer = None
        self._timer_callback = None

    def _arm(self, ms: int, callback) -> None:
        if self._timer is None:
            self._timer = self.ctx.dispatcher.create_timer(self._on_timer)
        self._timer_callback = callback
        self._timer.enable(ms)

    def _on_timer(self) -> None:
        self._timer_callback()

    # -- delay -----------------------------------------------------------------------------

    def on_new_connection(self):
        self._start_ms = self.ctx.dispatcher.now_ms()
        if self.config.delay_ms:
            self._delaying = True
            self.stats.inc("delays_injected")
            self._arm(self.config.delay_ms, self._on_delay_elapsed)
            return STOP_ITERATION
        return CONTINUE

    def _on_delay_elapsed(self) -> None:
        self._delaying = False
        conn = self.callbacks.connection
        if not conn.is_open:
            return
        if not self.config.throttle_bytes_per_sec:
            self.callbacks.continue_reading()
            return
        # Start the later filters without handing them the held bytes; the throttle releases those.
        self.callbacks.inject_read_data_to_filter_chain(b"", False)
        if len(conn.read_buffer) or conn.read_end_stream:
            self._queue_release()

    # -- throttle --------------------------------------------------------------------------

    def on_data(self, data, end_stream):
        if self._delaying:
            return STOP_ITERATION
        if not self.config.throttle_bytes_per_sec:
            return CONTINUE
        if self._release_queued:
            return STOP_ITERATION  # bytes ahead of these are still held: keep the order
        self._refresh_budget()
        if len(data) <= self._budget:
            self._budget -= len(data)
            if end_stream:
                self._end_released = True
            return CONTINUE
        self.stats.inc("throttle_holds")
        self._queue_release()
        return STOP_ITERATION

    def _refresh_budget(self) -> None:
        window = (self.ctx.dispatcher.now_ms() - self._start_ms) // WINDOW_MS
        if window != self._window:
            self._window = window
            self._budget = self.config.throttle_bytes_per_sec

    def _queue_release(self) -> None:
        self._release_queued = True
        self._refresh_budget()
        if self._budget > 0:
            self.ctx.dispatcher.post(self._release)
        else:
            into_window = (self.ctx.dispatcher.now_ms() - self._start_ms) % WINDOW_MS
            self._arm(WINDOW_MS - into_window, self._release)

    def _release(self) -> None:
        """Pass the front of the held bytes (at most the budget) to the later filters."""
        self._release_queued = False
        conn = self.callbacks.connection
        if not conn.is_open:
            return
        buf = conn.read_buffer
        end_pending = conn.read_end_stream and not self._end_released
        if len(buf) and not _chain_reads_now(conn):
            return  # paused by someone else: their re-enable re-dispatches the buffer to on_data
        self._refresh_budget()
        n = min(self._budget, len(buf))
        chunk = buf.take(n) if n else b""
        self._budget -= n
        end = end_pending and not len(buf)
        if end:
            self._end_released = True
        if n:
            self.stats.inc("throttled_bytes_released", n)
        if n or end:
            self.callbacks.inject_read_data_to_filter_chain(chunk, end)
        if conn.is_open and (len(buf) or (conn.read_end_stream and not self._end_released)):
            self._queue_release()
