"""Virtual time: timers fire at their deadline, in order, once per arming."""

import pytest

from proxy.event import SimulatedDispatcher, TimerError


def test_timers_fire_in_deadline_order_at_their_virtual_time():
    d = SimulatedDispatcher()
    fired = []
    a = d.create_timer(lambda: fired.append(("a", d.now_ms())))
    b = d.create_timer(lambda: fired.append(("b", d.now_ms())))
    a.enable(30)
    b.enable(10)
    d.advance(9)
    assert fired == []
    d.advance(100)
    assert fired == [("b", 10), ("a", 30)]
    assert d.now_ms() == 109


def test_rearming_replaces_the_deadline_and_disable_cancels():
    d = SimulatedDispatcher()
    fired = []
    t = d.create_timer(lambda: fired.append(d.now_ms()))
    t.enable(10)
    t.enable(50)
    d.advance(20)
    assert fired == []
    t.disable()
    d.advance(100)
    assert fired == []
    t.enable(0)
    d.advance(0)
    assert fired == [120]


def test_a_timer_rearmed_from_its_callback_fires_again_later_not_twice_now():
    d = SimulatedDispatcher()
    fired = []
    t = None

    def tick():
        fired.append(d.now_ms())
        if len(fired) < 3:
            t.enable(5)

    t = d.create_timer(tick)
    t.enable(5)
    d.advance(100)
    assert fired == [5, 10, 15]


def test_a_zero_delay_rearm_loop_is_reported_not_hung():
    d = SimulatedDispatcher()
    t = None

    def forever():
        t.enable(0)

    t = d.create_timer(forever)
    t.enable(0)
    with pytest.raises(RuntimeError, match="unbounded"):
        d.advance(1)


def test_firing_early_is_a_contract_error():
    d = SimulatedDispatcher()
    t = d.create_timer(lambda: None)
    t.enable(10)
    with pytest.raises(TimerError):
        t._fire(t._generation)


def test_asyncio_timer_disabled_or_rearmed_releases_its_callback_at_once():
    # A stale expiry left on the loop would keep the callback (a router's whole stream) alive
    # until its old deadline: the route timeout armed per request held every stream for 15 s.
    import asyncio
    import gc
    import weakref

    from proxy.event import AsyncioDispatcher

    class Stream:
        def on_timeout(self):
            fired.append(self)

    fired = []

    async def scenario():
        d = AsyncioDispatcher(asyncio.get_running_loop())
        disabled, rearmed = Stream(), Stream()
        t1, t2 = d.create_timer(disabled.on_timeout), d.create_timer(rearmed.on_timeout)
        t1.enable(60_000)
        t1.disable()
        t2.enable(60_000)
        t2.enable(1)
        ref = weakref.ref(disabled)
        del disabled, t1
        gc.collect()
        assert ref() is None
        await asyncio.sleep(0.05)
        assert len(fired) == 1 and t2.fired_generation == 2

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_asyncio_timers_fire_at_their_deadline_not_a_fraction_of_a_millisecond_later():
    """A timer armed at 604.4 ms for 396 ms is due at 1000 ms: scheduled at 1.000 s, not 1.0004 s, so
    a timer re-armed from its own expiry (a throttle's windows) does not drift later each window."""
    from proxy.event import AsyncioDispatcher

    class Clock:
        """The parts of a loop the dispatcher uses, at a time the test sets."""

        def __init__(self):
            self.now, self.due = 0.0, []

        def time(self):
            return self.now

        def call_at(self, when, callback, *args):
            self.due.append((when, callback))

        def call_later(self, delay, callback, *args):
            self.call_at(self.now + delay, callback)

    loop = Clock()
    d = AsyncioDispatcher(loop)
    fired = []
    timer = d.create_timer(lambda: fired.append(d.now_ms()))
    loop.now = 0.6044
    timer.enable(396)
    [(when, expire)] = loop.due
    assert when == 1.0
    loop.now = when
    expire()
    assert fired == [1000]
