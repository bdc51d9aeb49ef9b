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
