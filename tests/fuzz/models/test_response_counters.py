"""The response counters against what the peers saw (fuzz/models/response_counters.py): bugs planted
in the proxy by monkeypatch are caught on committed session seeds, and counters that agree pass."""

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

import proxy.http.conn_manager as conn_manager
from fuzz import oracles, session
from fuzz.models import response_counters
from proxy.stats import Stats

SEEDS = Path(session.__file__).resolve().parents[1] / "corpus" / "session"


@pytest.fixture(scope="module")
def pool():
    return session.ConfigPool.default()


def run(pool, *names):
    for name in names:
        session.run_input(pool, (SEEDS / name).read_bytes())


def read(status):
    return SimpleNamespace(outcome="response", response=SimpleNamespace(status=status, complete=True), upstreams=[])


def test_counters_that_agree_with_the_clients_pass():
    counters = {
        "http.downstream_rq_total": 3,
        "http.downstream_rq_200": 1,
        "http.downstream_rq_204": 1,
        "http.downstream_rq_2xx": 2,
        "http.downstream_rq_503": 1,
        "http.downstream_rq_5xx": 1,
    }
    response_counters.check_downstream(counters, [read(200), read(503)])


def test_a_class_counter_apart_from_its_codes_fails():
    counters = {"http.downstream_rq_total": 2, "http.downstream_rq_404": 1, "http.downstream_rq_4xx": 2}
    with pytest.raises(oracles.InvariantViolation, match="model_stats_class_is_its_codes"):
        response_counters.check_downstream(counters, [])


def test_responses_counted_twice_are_caught_on_the_seeds(monkeypatch, pool):
    count = conn_manager.HttpConnectionManager.count_response

    def twice(self, status):  # the planted bug: every final response counted twice
        count(self, status)
        count(self, status)

    monkeypatch.setattr(conn_manager.HttpConnectionManager, "count_response", twice)
    with pytest.raises(oracles.InvariantViolation, match="model_stats_more_responses_than_requests"):
        run(pool, "config-s1-0000-backed_up_client_asks_again-r0-104557121e26")


def test_a_refused_head_left_out_of_the_requests_is_caught_on_the_seeds(monkeypatch, pool):
    """The defect as it was: a 400 or 408 the codec answered before a stream existed moved the status
    counters and no request counter."""
    monkeypatch.setattr(conn_manager.HttpConnectionManager, "_count_streamless_request", lambda self, ev: None)
    with pytest.raises(oracles.InvariantViolation, match="model_stats_more_responses_than_requests"):
        run(pool, "config-s1-0000-edges1-r0-3a403cc03280")


def _planted_upstream_counter(monkeypatch, rename):
    inc = Stats.inc

    def planted(self, name, *args, **kwargs):
        if re.search(r"\.upstream_rq_\d(\d\d|xx)$", name):  # a code or its class, kept consistent
            name = rename(name)
        if name:
            inc(self, name, *args, **kwargs)

    monkeypatch.setattr(Stats, "inc", planted)


def test_upstream_responses_left_uncounted_are_caught_on_the_seeds(monkeypatch, pool):
    _planted_upstream_counter(monkeypatch, lambda name: "")  # the router forgets upstream_rq_<code>
    with pytest.raises(oracles.InvariantViolation, match="model_stats_upstream_responses_uncounted"):
        run(pool, "config-s1-0000-edges1-r0-3a403cc03280")


def test_upstream_responses_counted_under_another_status_are_caught_on_the_seeds(monkeypatch, pool):
    # every answer counted as a 200 (its class as 2xx)
    _planted_upstream_counter(monkeypatch, lambda name: name[:-3] + ("2xx" if name.endswith("xx") else "200"))
    with pytest.raises(oracles.InvariantViolation, match="model_stats_upstream_responses_"):
        run(pool, "regress-held-reads-queued-h1-operations")


def test_upstream_counts_over_what_the_upstreams_sent_fail():
    up = SimpleNamespace(cluster="web", response=SimpleNamespace(status=200))
    servers = [SimpleNamespace(seen=[up], tainted=False, conn_=None)]
    with pytest.raises(oracles.InvariantViolation, match="model_stats_upstream_responses_unsent"):
        response_counters.check_upstream(_with_class(200, 2), [], servers, [object()], lambda c: "web")
    response_counters.check_upstream(_with_class(200, 1), [], servers, [object()], lambda c: "web")


def _with_class(status: int, n: int) -> dict:
    return {f"cluster.web.upstream_rq_{status}": n, f"cluster.web.upstream_rq_{status // 100}xx": n}


def test_an_upstream_class_counter_apart_from_its_codes_fails():
    counters = {"cluster.web.upstream_rq_200": 2, "cluster.web.upstream_rq_503": 1, "cluster.web.upstream_rq_2xx": 2}
    with pytest.raises(oracles.InvariantViolation, match="model_stats_upstream_class_is_its_codes"):
        response_counters.check_upstream(counters, [], [], [object()], lambda c: "web")
    # The same with its 5xx: passes (no peer read the connection, so what was sent is not judged).
    response_counters.check_upstream(
        {**counters, "cluster.web.upstream_rq_5xx": 1}, [], [], [object()], lambda c: "web"
    )


def test_upstream_classes_left_uncounted_are_caught_on_the_seeds(monkeypatch, pool):
    """The defect as it was (BLACKBOX 12-04g): cluster.<name>.upstream_rq_<N>xx, Envoy's aggregate
    response codes, were never counted, so a dashboard on upstream_rq_5xx read 0 forever."""
    inc = Stats.inc

    def planted(self, name, *args, **kwargs):
        if not re.search(r"^cluster\..+\.upstream_rq_\dxx$", name):
            inc(self, name, *args, **kwargs)

    monkeypatch.setattr(Stats, "inc", planted)
    with pytest.raises(oracles.InvariantViolation, match="model_stats_upstream_class_is_its_codes"):
        run(pool, "config-s1-0000-edges1-r0-3a403cc03280")
