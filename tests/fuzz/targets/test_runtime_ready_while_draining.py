"""The runtime harness judges the admin's /ready against its own stop, not the proxy's draining flag
(PLANT_L round 6, runtime-ready-live-while-draining: Server.stop no longer set the flag, and the
harness, which read that very flag for its expectation, took 200 LIVE during the drain as right)."""

from pathlib import Path

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import runtime
from proxy import server

SEED = Path(__file__).resolve().parents[3] / "corpus" / "runtime" / "stop_with_open_connections-cap512"


def test_ready_during_a_drain_passes():
    runtime.run(SEED.read_bytes())


def test_a_server_that_never_says_it_drains_is_caught(monkeypatch):
    never = property(lambda self: False, lambda self, value: None)  # the flag stays False whatever is set
    monkeypatch.setattr(server.Server, "draining", never, raising=False)
    with pytest.raises(InvariantViolation) as err:
        runtime.run(SEED.read_bytes())
    assert err.value.name == "admin_status"
