"""Session scenarios' crowd (fuzz/mutators/scenarios.py CROWD): some scenarios start with 2-4 clients
of their own, each sending a request, so the proxy holds several requests for the same clusters at
once. From an empty input, crowded scenarios on the pool's entries whose circuit breaker allows more
connections than the cluster's own cap reach a proxy planted to let the breaker lift that cap; the
clean tree passes the same scenarios."""

import random

import pytest

from fuzz import session
from fuzz.models.session_oracle import bootstrap_of
from fuzz.mutators import actions, scenarios
from fuzz.oracles import InvariantViolation


def _ops(seed: int) -> list[str]:
    mutator = actions.session()
    made = scenarios.scenario(random.Random(seed), mutator._scenario_action, mutator._aimed)
    return [a.op for a in made]


def _starts_crowded(ops: list[str]) -> bool:
    rest = [op for op in ops if scenarios.role_of(op) != "configure"][:4]
    return [scenarios.role_of(op) for op in rest] == ["open", "request", "open", "request"]


def test_some_scenarios_start_with_a_crowd_of_clients_each_with_a_request(monkeypatch):
    crowded = sum(_starts_crowded(_ops(seed)) for seed in range(400))
    monkeypatch.setattr(scenarios, "CROWD", 0.0)
    by_chance = sum(_starts_crowded(_ops(seed)) for seed in range(400))
    assert crowded - by_chance > 10


def _breaker_above_the_cap(built) -> bool:
    return any(
        c.circuit_breakers.HasField("max_connections") and c.circuit_breakers.max_connections > c.max_connections
        for c in bootstrap_of(built).clusters
    )


def _crowded_findings(n: int, monkeypatch) -> list[str]:
    """n crowded scenarios of an empty input on the entries whose breaker is above the cluster's cap,
    run as the harness runs them: the findings' names."""
    monkeypatch.setattr(scenarios, "CROWD", 1.0)
    monkeypatch.setattr(scenarios, "FORWARDED", 0.0)
    pool = session.ConfigPool.default()
    entries = [i for i, built in enumerate(pool.built) if _breaker_above_the_cap(built)]
    assert entries
    mutator = actions.session()
    found = []
    for seed in range(n):
        rng = random.Random(seed)
        state = [bytes([rng.choice(entries), rng.randrange(len(session.READ_SIZES))]), []]
        assert mutator.scenario(state, rng)
        try:
            session.run_input(pool, mutator.codec.join(state[0], state[1]))
        except InvariantViolation as e:
            found.append(e.name)
    return found


N_CROWDED = 300


def _plant_breaker_overrides_the_cap(monkeypatch) -> None:
    """A breaker's max_connections, when set, replaces the cluster's cap instead of bounding it."""
    from proxy.config import defaults

    def breaker_wins(cluster) -> int:
        if cluster.circuit_breakers.HasField("max_connections"):
            return cluster.circuit_breakers.max_connections
        return defaults.get(cluster, "max_connections")

    monkeypatch.setattr(defaults, "cluster_max_connections", breaker_wins)


@pytest.mark.slow
def test_a_breaker_lifting_the_cluster_cap_is_found_from_crowded_scenarios(monkeypatch):
    _plant_breaker_overrides_the_cap(monkeypatch)
    assert "model_circuit_breaker_max_connections" in _crowded_findings(N_CROWDED, monkeypatch)


@pytest.mark.slow
def test_the_clean_tree_passes_the_same_crowded_scenarios(monkeypatch):
    assert _crowded_findings(N_CROWDED, monkeypatch) == []
