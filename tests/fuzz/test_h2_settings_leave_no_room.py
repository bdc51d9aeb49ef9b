"""The session seed h2_upstream_settings_leave_no_room (fuzz/session_seeds.py): two requests queue
behind an HTTP/2 upstream connection still connecting, whose SETTINGS then allow one stream. The
second request must get a connection of its own (Envoy's pool on onSettings); a pool that forgets to
(a lost wakeup) leaves it queued while the cluster could serve it, which stall_pool_queue
(fuzz/liveness.py) judges. The committed seeds replay clean, and the class planted by monkeypatch
fails them."""

import pytest

from fuzz import oracles
from proxy.upstream.pool import ClusterHttpPool
from tests.fuzz.test_round6_http_shapes import replay  # committed session seeds by glob, run in turn

PATTERN = "config-s1-0000-h2_upstream_settings_leave_no_room-*"


def test_the_seeds_replay_clean():
    assert replay(PATTERN) == 2


def test_a_pool_that_opens_no_connection_when_the_settings_leave_no_room_is_caught(monkeypatch):
    monkeypatch.setattr(ClusterHttpPool, "on_stream_limit_known", lambda self, pc: None)
    with pytest.raises(oracles.InvariantViolation, match="stall_pool_queue"):
        replay(PATTERN)
