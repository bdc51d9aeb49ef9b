"""h2_codec judges refusals against the server's advertised stream limit (RFC 9113 5.1.2): a client
may have SETTINGS_MAX_CONCURRENT_STREAMS streams open, so REFUSED_STREAM on one opened within that
count is unearned (h2_wire_unearned_refused_stream)."""

import random

import h2.connection
import pytest

from fuzz.mutators import h2_actions
from fuzz.mutators.fdp import Script
from fuzz.oracles import InvariantViolation
from fuzz.targets import h2pair


def _streams_at_the_limit(limit_bits: int, streams: int) -> bytes:
    """The server configured with max_concurrent_streams (1, 2, 3, 100)[limit_bits], both SETTINGS
    read, then `streams` requests opened at once."""
    script = Script()
    h2_actions.settings(script, client=False, choice=limit_bits)
    for client in (False, True, False, True):
        h2_actions.drain(script, client, 8)
    rng = random.Random(1)
    for _ in range(streams):
        h2_actions.new_stream(script, rng, end=True)
    h2_actions.drain(script, True, 8)
    return script.around(b"")


@pytest.mark.parametrize("limit_bits", [0, 1, 2])
def test_streams_up_to_the_limit_are_served(limit_bits):
    pair = h2pair.run(_streams_at_the_limit(limit_bits, limit_bits + 1))
    assert len(pair.server.got) == limit_bits + 1


@pytest.mark.parametrize("limit_bits", [0, 1, 2])
def test_a_limit_that_counts_the_new_stream_is_caught(limit_bits, monkeypatch):
    counted = h2.connection.H2Connection.open_inbound_streams
    monkeypatch.setattr(
        h2.connection.H2Connection, "open_inbound_streams", property(lambda self: counted.fget(self) + 1)
    )
    with pytest.raises(InvariantViolation) as e:
        h2pair.run(_streams_at_the_limit(limit_bits, limit_bits + 1))
    assert e.value.name == "h2_wire_unearned_refused_stream"
