"""tcp_proxy pairs against the watermarks (fuzz/held.py, tcp_proxy_read_past_the_watermark): bytes
one side read and the other has not sent stay within what the receiving side's output buffers hold
below their high watermarks, or the reading side is read-disabled. Planted: the fault throttle's held
writes without watermarks, and the connection's write watermark callbacks muted; both are caught on
the committed network_filter seed, which passes on the clean tree."""

from pathlib import Path

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import network_filter
from proxy.buffer import Buffer
from proxy.network.connection import Connection
from proxy.network.filters import fault

SEED = Path(__file__).resolve().parents[2] / "corpus" / "network_filter" / "model-fault-throttle-upstream-floods"


def test_the_committed_seed_is_the_model_seed_and_passes_clean():
    assert SEED.read_bytes() == network_filter.model_seeds()["fault-throttle-upstream-floods"]
    network_filter.run(SEED.read_bytes())


def _unwatermarked_throttle(monkeypatch):
    def throttle_writes(self, connection):
        self._held_out = Buffer()
        connection.add_write_filter(self)

    monkeypatch.setattr(fault.FaultFilter, "throttle_writes", throttle_writes)


def _muted_write_watermarks(monkeypatch):
    monkeypatch.setattr(Connection, "_on_write_buffer_high", lambda self: None)


@pytest.mark.parametrize("plant", [_unwatermarked_throttle, _muted_write_watermarks])
def test_a_side_read_past_the_watermark_is_caught(plant, monkeypatch):
    plant(monkeypatch)
    with pytest.raises(InvariantViolation) as err:
        network_filter.run(SEED.read_bytes())
    assert err.value.name == "tcp_proxy_read_past_the_watermark"
