"""fault: network fault injection: hold a connection back, or throttle what it forwards.

delay_ms: the first on_new_connection returns STOP_ITERATION and arms a timer; until it
fires every on_data returns STOP_ITERATION too (bytes stay in the connection's read buffer,
whose watermark back-pressures the peer). When the timer fires, `continue_reading()` resumes
the filters after this one with the whole buffer: never from inside this filter's own
callbacks. Before tcp_proxy, whose reads stay disabled until its upstream connects, the
upstream is connected only after the delay, so the first byte reaches it delay_ms later.

throttle_bytes_per_sec, in each direction: at most N bytes reach the later filters per 1000 ms
window (read path: downstream -> upstream), and at most N bytes written to the connection pass
on to its write buffer per window (write path: upstream -> downstream), windows counted from
on_new_connection. Read path method:
*draining portions*. On data that fits the window's remaining budget this filter returns
CONTINUE (the terminal filter after it drains the buffer, as every valid chain's last filter
does). Otherwise it returns STOP_ITERATION and releases the buffer's front, at most the
budget, with `inject_read_data_to_filter_chain` from a posted callback or the next window's
timer, never from inside on_data. Held bytes stay in the connection's read buffer, so the
read watermark keeps the peer's bytes bounded; while the connection's reads are disabled by
someone else (tcp_proxy backpressure) nothing is released, and the re-enable re-dispatches.
The end of stream travels with the last held byte.
Write path: a write over the window's budget (or behind held bytes) is stopped and kept in a
buffer of this filter's, released at most the budget per window with
`inject_write_data_to_filter_chain`, the end of stream with its last byte. That buffer carries the
connection's write watermarks (the writer, tcp_proxy or the HTTP connection manager, pauses its
source as for the write buffer), and `holds_writes()` makes a FLUSH_WRITE close wait for it.

Counters `fault.`: delays_injected, throttle_holds (on_data calls that held bytes back),
throttled_bytes_released (bytes released by the throttle after a hold).
"""

from collections.abc import Callable
from dataclasses import dataclass

from ...buffer import Buffer, WatermarkBuffer
from ...build_context import BuildContext
from ...event import Timer
from ..connection import State
from ..filter import CONTINUE, STOP_ITERATION, ReadFilter, WriteFilter
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
    config = FaultConfig(
        delay_ms=msg.delay_ms, throttle_bytes_per_sec=msg.throttle_bytes_per_sec, stat_scopes=stat_scopes("fault")
    )

    def install(connection, ctx):
        fault = FaultFilter(config, ctx)
        connection.add_read_filter(fault)
        if config.throttle_bytes_per_sec:
            fault.throttle_writes(connection)

    return install


def _chain_reads_now(conn) -> bool:
    """Would the connection hand read data to its filters now? (Only its own read-buffer
    watermark, or nothing, disables reading.)"""
    count = conn.read_disable_count
    return count == 0 or (count == 1 and conn.read_buffer.above_high_watermark)


class _Allowance:
    """One direction's throttle: `rate` bytes per WINDOW_MS window, windows counted from `start_ms`."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.start_ms = 0
        self.window = -1
        self.budget = 0

    def refresh(self, now_ms: int) -> int:
        window = (now_ms - self.start_ms) // WINDOW_MS
        if window != self.window:
            self.window = window
            self.budget = self.rate
        return self.budget

    def take(self, buf, now_ms: int) -> bytes:
        """The front of `buf` this window still allows, removed from it and from the budget."""
        n = min(self.refresh(now_ms), len(buf))
        self.budget -= n
        return buf.take(n) if n else b""

    def ms_to_next_window(self, now_ms: int) -> int:
        return WINDOW_MS - (now_ms - self.start_ms) % WINDOW_MS


class FaultFilter(ReadFilter, WriteFilter):
    def __init__(self, config: FaultConfig, ctx) -> None:
        self.config = config
        self.ctx = ctx
        self.stats = FilterStats(ctx.stats, config.stat_scopes)
        self._delaying = False
        self._in = _Allowance(config.throttle_bytes_per_sec)  # downstream -> upstream (reads)
        self._out = _Allowance(config.throttle_bytes_per_sec)  # upstream -> downstream (writes)
        self._held_out: WatermarkBuffer | None = None  # writes held back (throttle_writes)
        self._held_out_end = False
        self._out_release_queued = False
        self._out_timer: Timer | None = None
        self._release_queued = False
        self._end_released = False
        self._timer: Timer | None = None
        # Bytes an earlier filter injected (its own throttle's release) while this one stopped:
        # they are not in the connection's read buffer, so this filter keeps them (Envoy's contract
        # for injected data) and passes them on, ahead of that buffer, when it resumes.
        self._injected = Buffer()
        self._injected_end = False
        self._timer_callback: Callable[[], None] | None = None

    def _arm(self, ms: int, callback) -> None:
        if self._timer is None:
            self._timer = self.ctx.dispatcher.create_timer(self._on_timer)
        self._timer_callback = callback
        self._timer.enable(ms)

    def _on_timer(self) -> None:
        assert self._timer_callback is not None, "_arm set it with the timer"
        self._timer_callback()

    # -- delay -----------------------------------------------------------------------------

    def on_new_connection(self):
        self._in.start_ms = self._out.start_ms = self.ctx.dispatcher.now_ms()
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
            self._pass_injected()
            if conn.is_open:
                self.callbacks.continue_reading()
            return
        # Start the later filters without handing them the held bytes; the throttle releases those.
        self.callbacks.inject_read_data_to_filter_chain(b"", False)
        self._pass_injected()
        if len(conn.read_buffer) or conn.read_end_stream:
            self._queue_release()

    # -- throttle --------------------------------------------------------------------------

    def on_data(self, data, end_stream):
        status = self._on_data(data, end_stream)
        if status is STOP_ITERATION and data is not self.callbacks.connection.read_buffer:
            self._injected.move_from(data)
            self._injected_end = self._injected_end or end_stream
        return status

    def _pass_injected(self) -> None:
        """Pass on what an earlier filter injected while this one stopped (outside this filter's
        throttle budget: it was counted by the filter that released it)."""
        if len(self._injected) or self._injected_end:
            data, end = self._injected.take(), self._injected_end
            self._injected_end = False
            self.callbacks.inject_read_data_to_filter_chain(data, end)

    def _on_data(self, data, end_stream):
        if self._delaying:
            return STOP_ITERATION
        if not self.config.throttle_bytes_per_sec:
            return CONTINUE
        if self._release_queued:
            return STOP_ITERATION  # bytes ahead of these are still held: keep the order
        budget = self._in.refresh(self.ctx.dispatcher.now_ms())
        if len(data) <= budget:
            self._in.budget -= len(data)
            if end_stream:
                self._end_released = True
            return CONTINUE
        self.stats.inc("throttle_holds")
        self._queue_release()
        return STOP_ITERATION

    def _queue_release(self) -> None:
        self._release_queued = True
        now = self.ctx.dispatcher.now_ms()
        if self._in.refresh(now) > 0:
            self.ctx.dispatcher.post(self._release)
        else:
            self._arm(self._in.ms_to_next_window(now), self._release)

    def _release(self) -> None:
        """Pass the front of the held bytes (at most the budget) to the later filters."""
        self._release_queued = False
        conn = self.callbacks.connection
        if not conn.is_open:
            return
        self._pass_injected()
        if not conn.is_open:
            return
        buf = conn.read_buffer
        end_pending = conn.read_end_stream and not self._end_released
        if len(buf) and not _chain_reads_now(conn):
            if conn.read_end_stream:
                # Paused by someone else after the end of stream was raised: the connection raises
                # it once and will not hand the buffer to on_data again when the pause ends, so
                # look again at the next window rather than wait for a re-dispatch that never comes.
                self._release_queued = True
                self._arm(self._in.ms_to_next_window(self.ctx.dispatcher.now_ms()), self._release)
            return  # otherwise their re-enable re-dispatches the buffer to on_data
        chunk = self._in.take(buf, self.ctx.dispatcher.now_ms())
        end = end_pending and not len(buf)
        if end:
            self._end_released = True
        if chunk:
            self.stats.inc("throttled_bytes_released", len(chunk))
        if chunk or end:
            self.callbacks.inject_read_data_to_filter_chain(chunk, end)
        if conn.is_open and (len(buf) or (conn.read_end_stream and not self._end_released)):
            self._queue_release()

    # -- throttle, write path ------------------------------------------------------------------

    def throttle_writes(self, connection) -> None:
        """Also throttle what the connection writes. Held bytes carry the connection's write
        watermarks, so whoever writes pauses as it does for the connection's write buffer."""
        self._held_out = WatermarkBuffer(
            connection._on_write_buffer_high, connection._on_write_buffer_low, connection.buffer_limit
        )
        connection.add_write_filter(self)

    def holds_writes(self) -> bool:
        return self._held_out is not None and (bool(len(self._held_out)) or self._held_out_end)

    def on_write(self, data, end_stream):
        held = self._held_out
        if held is None:
            return CONTINUE
        if not self.holds_writes():
            budget = self._out.refresh(self.ctx.dispatcher.now_ms())
            if len(data) <= budget:
                self._out.budget -= len(data)
                return CONTINUE
            self.stats.inc("throttle_holds")
        held.move_from(data)
        self._held_out_end = self._held_out_end or end_stream
        self._queue_write_release()
        return STOP_ITERATION

    def _queue_write_release(self) -> None:
        if self._out_release_queued:
            return
        self._out_release_queued = True
        now = self.ctx.dispatcher.now_ms()
        if self._out.refresh(now) > 0:
            self.ctx.dispatcher.post(self._release_writes)
            return
        if self._out_timer is None:
            self._out_timer = self.ctx.dispatcher.create_timer(self._release_writes)
        self._out_timer.enable(self._out.ms_to_next_window(now))

    def _release_writes(self) -> None:
        """Pass the front of the held writes (at most the budget) on to the write buffer."""
        self._out_release_queued = False
        conn = self.write_callbacks.connection
        held = self._held_out
        assert held is not None, "posted only once writes are held"
        if conn.state is State.CLOSED:
            held.clear()
            self._held_out_end = False
            return
        chunk = self._out.take(held, self.ctx.dispatcher.now_ms())
        end = self._held_out_end and not len(held)
        if end:
            self._held_out_end = False
        if chunk:
            self.stats.inc("throttled_bytes_released", len(chunk))
        if chunk or end:
            self.write_callbacks.inject_write_data_to_filter_chain(chunk, end)
        if self.holds_writes():
            self._queue_write_release()
