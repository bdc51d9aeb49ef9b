"""The runtime harness holds a stop to its clients (fuzz/targets/runtime_drain.py): once every client
connection has closed, the drain ends, whatever the pools still hold idle. Planted drains that wait
for idle upstream connections or never notice their clients left are caught on the committed seeds;
a drain with a client still open may wait, and the clean tree passes."""

from pathlib import Path

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import runtime
from proxy import server

CORPUS = Path(__file__).resolve().parents[3] / "corpus" / "runtime"
LEFT_BEFORE_THE_STOP = CORPUS / "stop_after_the_last_client_left-cap512"
LEFT_DURING_THE_DRAIN = CORPUS / "stop_then_the_last_client_leaves-cap4096"
CLIENT_STILL_OPEN = CORPUS / "stop_with_open_connections-cap512"
SEEDS = [LEFT_BEFORE_THE_STOP, LEFT_DURING_THE_DRAIN]


def _drain_done_when(condition, monkeypatch) -> None:
    """Plant: Server.discard ends the drain's wait only when `condition(server)` holds."""

    def discard(self, transport) -> None:
        self._downstream.discard(transport)
        self._upstream.discard(transport)
        self._update_gauges()
        if condition(self) and self._clients_gone is not None:
            self._clients_gone.set()

    monkeypatch.setattr(server.Server, "discard", discard)


@pytest.mark.parametrize("seed", SEEDS + [CLIENT_STILL_OPEN], ids=lambda p: p.name)
def test_the_clean_tree_stops_with_its_clients(seed):
    world = runtime.run(seed.read_bytes())
    assert world.drain.stopped_us is not None


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name)
def test_a_drain_waiting_for_idle_upstream_connections_is_caught(seed, monkeypatch):
    _drain_done_when(lambda s: not s._downstream and not s._upstream, monkeypatch)
    with pytest.raises(InvariantViolation) as err:
        runtime.run(seed.read_bytes())
    assert err.value.name == "runtime_drain_outlived_its_clients"


def test_a_drain_that_never_sees_its_clients_leave_is_caught(monkeypatch):
    _drain_done_when(lambda s: False, monkeypatch)
    with pytest.raises(InvariantViolation) as err:
        runtime.run(LEFT_DURING_THE_DRAIN.read_bytes())
    assert err.value.name == "runtime_drain_outlived_its_clients"


def _drain_ignoring_a_lone_client(monkeypatch) -> None:
    """Plant (PLANT round 12): Server.add re-arms the drain's wait only when another client is already
    open, so a stop with a single client in flight ends at once and closes it."""

    def add(self, transport, downstream: bool) -> None:
        if downstream and self._downstream and self._clients_gone is not None:
            self._clients_gone.clear()
        (self._downstream if downstream else self._upstream).add(transport)
        self._update_gauges()

    monkeypatch.setattr(server.Server, "add", add)


@pytest.mark.parametrize("name", ["stop_with_open_connections-cap512", "stop_with_open_connections-shared"])
def test_a_drain_that_closes_a_lone_connection_at_once_is_caught(name, monkeypatch):
    _drain_ignoring_a_lone_client(monkeypatch)
    with pytest.raises(InvariantViolation) as err:
        runtime.run((CORPUS / name).read_bytes())
    assert err.value.name == "runtime_drain_cut_a_connection_short"


def test_a_connection_open_through_the_drain_is_closed_at_its_timeout_not_before():
    world = runtime.run(CLIENT_STILL_OPEN.read_bytes())
    assert world.drain.kept == {0: world.drain.drain_ends_us}


def test_a_second_signal_ends_the_drain_and_may_close_what_is_left():
    world = runtime.run((CORPUS / "stop_twice_with_open_connections-shared").read_bytes())
    assert world.drain.kept[0] is not None and world.drain.kept[0] <= world.drain.drain_ends_us


def test_a_client_refused_by_the_drain_does_not_make_the_reference_another_run():
    # ci-fuzz, 20 s: connect, stop, a late connect (refused here, accepted by the reference), an
    # upstream accept (client 0's connection here, the late client's there), client 0's upstream
    # closes: tcp_proxy rightly ends client 0 here, which the reference, answering other
    # connections, kept open. Not a drain cutting a connection short.
    world = runtime.run((CORPUS / "regress-drain-late-client-shifts-upstream-answers").read_bytes())
    assert world.drain.kept[0] is not None  # ended by its upstream's close, during the drain


def test_a_late_client_answered_only_by_the_reference_does_not_make_it_another_run():
    # Campaign 12-05, runtime -seed=1504: a late connect and an upstream accept after the stop; here
    # no connect was pending (the late client was refused), there the late client's was, so the
    # reference gained an upstream and a later upstream action picked another one there than here,
    # where client 0's upstream closed and rightly ended it. Not a drain cutting a connection short.
    world = runtime.run((CORPUS / "regress-drain-late-client-answered-only-in-memory").read_bytes())
    assert world.drain.kept[0] is not None  # ended by its upstream's close, during the drain
