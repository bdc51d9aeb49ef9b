"""The upstream-side shapes of session scenarios (fuzz/mutators/scenarios.py): on the forwarding
family the clients are configured for the service (FITTING); exchanges whose connects hang
(HANGS), upstreams that shut down gracefully between reading and answering (GOES_AWAY), streamed
answers that come slowly (SLOW), upstream SETTINGS first and bursts of requests (ADVERTISES, BURST).
From an empty input, family scenarios reach a planted GOAWAY off-by-one in the pool; the clean tree
passes the same scenarios."""

import random

import pytest

from fuzz import session
from fuzz.mutators import actions, scenarios
from fuzz.oracles import InvariantViolation


def _scenarios(n: int, fitting: bool) -> list:
    mutator = actions.session()
    return [
        scenarios.scenario(random.Random(seed), mutator._scenario_action, mutator._aimed, fitting=fitting)
        for seed in range(n)
    ]


def test_family_scenarios_send_requests_as_configured_clients():
    made = [a.op for acts in _scenarios(200, fitting=True) for a in acts]
    assert "send_request" in made and "connect_fitting" in made
    assert not {"send_http", "send", "connect", "connect_tls"} & set(made[1:])


def test_other_scenarios_still_draw_every_request_op():
    made = {a.op for acts in _scenarios(200, fitting=False) for a in acts}
    assert {"send_http", "send", "send_request", "connect_tls"} <= made


def _hangs(acts) -> bool:
    """A request followed by at least two time steps before any connect outcome or upstream move."""
    steps = None
    for a in acts:
        role = scenarios.role_of(a.op)
        if role == "request":
            steps = 0
        elif steps is not None and a.op == "advance" and a.value in scenarios.HANG_STEPS_MS:
            steps += 1
            if steps >= 2:
                return True
        elif role in ("connect_outcome", "upstreams_up", "upstream"):
            steps = None
    return False


def test_some_exchanges_hang_and_some_upstreams_go_away_before_answering():
    made = _scenarios(300, fitting=True)
    assert 20 < sum(map(_hangs, made)) < 200
    goaway_after_a_read = 0
    for acts in made:
        ops = [a.op for a in acts]
        goaway_after_a_read += any(ops[i : i + 2] == ["upstream_read", "upstream_goaway"] for i in range(len(ops)))
    assert goaway_after_a_read > 10


def _family_scenarios_raise(n: int, monkeypatch) -> str | None:
    """Run n family scenarios of an empty input as the harness runs them: the first finding's name."""
    monkeypatch.setattr(scenarios, "FORWARDED", 1.0)
    pool = session.ConfigPool.default()
    mutator = actions.session()
    for seed in range(n):
        rng = random.Random(seed)
        state = [bytes([0, rng.randrange(len(session.READ_SIZES))]), []]
        assert mutator.scenario(state, rng)
        data = mutator.codec.join(state[0], state[1])
        index, read_size, acts = session.decode_input(pool, data)
        built = pool.built[index]
        try:
            session.Session(
                built, read_size=read_size, models=True, sources=session.edge_sources(built, session.SOURCES)
            ).run(acts)
        except InvariantViolation as e:
            return e.name
    return None


N_GOAWAY = 400


@pytest.mark.slow
def test_a_pool_that_fails_the_last_stream_of_a_goaway_is_found_from_family_scenarios(monkeypatch):
    from proxy.http.codec import ConnectionClosed
    from proxy.upstream import pool_conn

    original = pool_conn.PoolConnection._dispatch

    def off_by_one(self, ev):  # planted: the stream at last_stream_id is failed with those above it
        if isinstance(ev, ConnectionClosed) and ev.last_stream_id is not None:
            ev = ConnectionClosed(ev.reason, ev.error_code, ev.last_stream_id - 1)
        original(self, ev)

    monkeypatch.setattr(pool_conn.PoolConnection, "_dispatch", off_by_one)
    assert _family_scenarios_raise(N_GOAWAY, monkeypatch) == "response_replaced"


@pytest.mark.slow
def test_the_clean_tree_passes_the_same_family_scenarios(monkeypatch):
    assert _family_scenarios_raise(N_GOAWAY, monkeypatch) is None
