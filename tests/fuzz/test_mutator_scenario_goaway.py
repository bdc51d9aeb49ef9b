"""Session scenarios' graceful shutdown (fuzz/mutators/scenarios.py GOES_AWAY): on the forwarding
family an upstream that read its requests sometimes sends GOAWAY before it answers, so the proxy
holds a stream in flight at the GOAWAY's last stream id (RFC 9113 6.8: such a stream may still
complete). From an empty input, family scenarios reach a pool planted to fail that stream; the clean
tree passes the same scenarios."""

import random

import pytest

from fuzz import session
from fuzz.mutators import actions, scenarios
from fuzz.oracles import InvariantViolation


def _ops(seed: int, forwarded: bool) -> list[str]:
    mutator = actions.session()
    made = scenarios.scenario(random.Random(seed), mutator._scenario_action, mutator._aimed, forwarded=forwarded)
    return [a.op for a in made]


def _goaway_after_a_read(ops: list[str]) -> bool:
    return any(ops[i : i + 2] == ["upstream_read", "upstream_goaway"] for i in range(len(ops) - 1))


def test_some_family_upstreams_go_away_between_reading_and_answering():
    assert 15 < sum(_goaway_after_a_read(_ops(seed, forwarded=True)) for seed in range(300)) < 100


def test_elsewhere_a_goaway_rarely_follows_a_read():
    assert sum(_goaway_after_a_read(_ops(seed, forwarded=False)) for seed in range(300)) < 15


def _family_findings(n: int, monkeypatch) -> list[str]:
    """Run n family scenarios of an empty input as the harness runs them: the findings' names."""
    monkeypatch.setattr(scenarios, "FORWARDED", 1.0)
    pool = session.ConfigPool.default()
    mutator = actions.session()
    found = []
    for seed in range(n):
        rng = random.Random(seed)
        state = [bytes([0, rng.randrange(len(session.READ_SIZES))]), []]
        assert mutator.scenario(state, rng)
        index, read_size, acts = session.decode_input(pool, mutator.codec.join(state[0], state[1]))
        built = pool.built[index]
        try:
            session.Session(
                built, read_size=read_size, models=True, sources=session.edge_sources(built, session.SOURCES)
            ).run(acts)
        except InvariantViolation as e:
            found.append(e.name)
    return found


N_FAMILY = 400


def _plant_goaway_off_by_one(monkeypatch) -> None:
    """The pool fails the stream at the GOAWAY's last stream id with those above it."""
    from proxy.http.codec import ConnectionClosed
    from proxy.upstream import pool_conn

    original = pool_conn.PoolConnection._dispatch

    def off_by_one(self, ev):
        if isinstance(ev, ConnectionClosed) and ev.last_stream_id is not None:
            ev = ConnectionClosed(ev.reason, ev.error_code, ev.last_stream_id - 1)
        original(self, ev)

    monkeypatch.setattr(pool_conn.PoolConnection, "_dispatch", off_by_one)


@pytest.mark.slow
def test_a_pool_that_fails_the_last_stream_of_a_goaway_is_found_from_family_scenarios(monkeypatch):
    _plant_goaway_off_by_one(monkeypatch)
    assert "response_replaced" in _family_findings(N_FAMILY, monkeypatch)


@pytest.mark.slow
def test_the_clean_tree_passes_the_same_family_scenarios(monkeypatch):
    assert _family_findings(N_FAMILY, monkeypatch) == []
