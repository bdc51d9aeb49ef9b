"""Dispatchers: the only source of time and deferred work for the proxy core.

Filters never read a clock: they arm timers on the dispatcher. Two implementations
share one interface: `SimulatedDispatcher` (virtual time that moves only when the
driver calls `advance`, used by tests and fuzzers) and `AsyncioDispatcher` (real
time, used by the socket runtime in proxy/server.py).

Time is in integer milliseconds.
"""

import heapq
import itertools


class TimerError(AssertionError):
    """A timer broke its contract (fired early or twice for one arming)."""


class Timer:
    """A one-shot timer. `enable(ms)` (re)arms it; `disable()` cancels it."""

    __slots__ = ("_dispatcher", "_callback", "_generation", "deadline", "fired_generation", "_handle")

    def __init__(self, dispatcher: "Dispatcher", callback) -> None:
        self._dispatcher = dispatcher
        self._callback = callback
        self._generation = 0
        self.deadline: int | None = None
        self.fired_generation = -1
        self._handle = None  # the dispatcher's pending expiry, if it can be cancelled

    @property
    def enabled(self) -> bool:
        return self.deadline is not None

    def enable(self, ms: int) -> None:
        if ms < 0:
            raise ValueError(f"timer delay must be >= 0, got {ms}")
        self._generation += 1
        self.deadline = self._dispatcher.now_ms() + ms
        self._cancel_pending()
        self._handle = self._dispatcher._schedule(self, self._generation, self.deadline)

    def disable(self) -> None:
        self._generation += 1
        self._cancel_pending()
        self.deadline = None

    def _fire(self, generation: int) -> None:
        if generation != self._generation or self.deadline is None:
            return  # re-armed or cancelled since this expiry was scheduled
        now = self._dispatcher.now_ms()
        if now < self.deadline:
            raise TimerError(f"timer fired early: now={now} deadline={self.deadline}")
        if self.fired_generation == generation:
            raise TimerError("timer fired twice for one arming")
        self.fired_generation = generation
        self.deadline = None
        self._callback()

    def _cancel_pending(self) -> None:
        # A stale expiry would be ignored anyway (generation check), but until it is due it keeps
        # this timer and everything its callback reaches alive: a route timeout armed per request
        # would hold every finished stream for 15 s.
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()


class Dispatcher:
    """Interface: now_ms(), create_timer(cb), post(cb), next_id()."""

    _id_counter = None

    def next_id(self) -> int:
        """Connection ids, per dispatcher: a run's ids never depend on earlier runs."""
        if self._id_counter is None:
            self._id_counter = itertools.count(1)
        return next(self._id_counter)

    def now_ms(self) -> int:
        raise NotImplementedError

    def create_timer(self, callback) -> Timer:
        return Timer(self, callback)

    def post(self, callback) -> None:
        raise NotImplementedError

    def post_after_io(self, callback) -> None:
        """Run `callback` once the I/O events already waiting have been handled: a peer's end of
        stream that came right behind the bytes just read is then known (Envoy reads both in one
        read event; asyncio learns the end in a later one)."""
        raise NotImplementedError

    def _schedule(self, timer: Timer, generation: int, deadline: int):
        """Arrange timer._fire(generation) at `deadline`; may return a handle with cancel()."""
        raise NotImplementedError


class SimulatedDispatcher(Dispatcher):
    """Virtual time. Nothing happens until the driver calls run_posted() or advance()."""

    # Bounds every drain loop: a callback that keeps re-posting itself is a bug, not a hang.
    MAX_CALLBACKS_PER_RUN = 100_000

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms
        self._timers: list = []
        self._posted: list = []
        self._seq = itertools.count()

    def now_ms(self) -> int:
        return self._now

    def post(self, callback) -> None:
        self._posted.append(callback)

    def post_after_io(self, callback) -> None:
        # The simulated network hands a peer's end of stream over with its last bytes.
        self.post(callback)

    def _schedule(self, timer, generation, deadline) -> None:
        heapq.heappush(self._timers, (deadline, next(self._seq), timer, generation))

    @property
    def pending_posted(self) -> int:
        return len(self._posted)

    def next_deadline(self) -> int | None:
        while self._timers:
            deadline, _, timer, generation = self._timers[0]
            if generation == timer._generation and timer.deadline is not None:
                return deadline
            heapq.heappop(self._timers)
        return None

    def run_posted(self) -> int:
        """Run posted callbacks (including ones they post) until none is left."""
        ran = 0
        while self._posted:
            batch, self._posted = self._posted, []
            for cb in batch:
                cb()
                ran += 1
                if ran > self.MAX_CALLBACKS_PER_RUN:
                    raise RuntimeError("posted callbacks keep re-posting: unbounded event loop")
        return ran

    def advance(self, ms: int) -> None:
        """Move virtual time forward by ms, firing due timers in deadline order."""
        if ms < 0:
            raise ValueError("time only moves forward")
        target = self._now + ms
        self.run_posted()
        fired = 0
        while self._timers and self._timers[0][0] <= target:
            deadline, _, timer, generation = heapq.heappop(self._timers)
            self._now = max(self._now, deadline)
            timer._fire(generation)
            self.run_posted()
            fired += 1
            if fired > self.MAX_CALLBACKS_PER_RUN:
                raise RuntimeError("timers keep re-arming at zero delay: unbounded event loop")
        self._now = target


class AsyncioDispatcher(Dispatcher):
    """Real time on an asyncio loop."""

    def __init__(self, loop) -> None:
        self._loop = loop
        self._origin = loop.time()

    def now_ms(self) -> int:
        return int((self._loop.time() - self._origin) * 1000)

    def post(self, callback) -> None:
        self._loop.call_soon(callback)

    def post_after_io(self, callback) -> None:
        # A callback posted now runs in the loop's next pass, before the I/O that pass polls; the
        # one it posts runs after that I/O was handled.
        self._loop.call_soon(self._loop.call_soon, callback)

    def _schedule(self, timer, generation, deadline) -> None:
        # At the deadline itself, not `deadline - now_ms()` after this moment: that added the
        # fraction of a millisecond now_ms() drops, so a timer re-armed from its own expiry (the
        # fault filter's throttle windows) fell later each time and its window at T opened after T.
        def expire():
            # asyncio runs a timer up to its clock's resolution early: re-check in whole ms.
            if timer.deadline is not None and generation == timer._generation and self.now_ms() < deadline:
                timer._handle = self._loop.call_at(self._origin + (deadline + 0.5) / 1000, expire)
                return
            timer._handle = None
            timer._fire(generation)

        return self._loop.call_at(self._origin + deadline / 1000, expire)
