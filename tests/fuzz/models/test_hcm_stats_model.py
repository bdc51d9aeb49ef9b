"""The per-protocol request counters (fuzz/models/hcm_stats.py) against what the session's clients sent:
HTTP/2 requests counted as HTTP/1.1 (planted by monkeypatch) are caught on the committed seeds."""

from pathlib import Path
from types import SimpleNamespace

import pytest

import proxy.http.conn_manager as conn_manager
from fuzz import oracles, session
from fuzz.models import hcm_stats

SEEDS = Path(session.__file__).resolve().parents[1] / "corpus" / "session"


def sent(*protocols):
    return [SimpleNamespace(protocol=p) for p in protocols]


def test_counters_within_what_was_sent_pass():
    counters = {"http.downstream_rq_total": 2, "http.downstream_rq_http1": 1, "http.downstream_rq_http2": 1}
    hcm_stats.check_requests_per_protocol(counters, sent("HTTP/1.1", "HTTP/2", "HTTP/2"))


def test_counters_not_adding_up_to_the_total_fail():
    counters = {"http.downstream_rq_total": 2, "http.downstream_rq_http1": 1}
    with pytest.raises(oracles.InvariantViolation, match="model_hcm_requests_per_protocol"):
        hcm_stats.check_requests_per_protocol(counters, sent("HTTP/1.1", "HTTP/1.1"))


def test_http2_requests_counted_as_http1_are_caught_on_the_seeds(monkeypatch):
    original = conn_manager._Stats.inc

    def inc(self, name, n=1):  # the planted bug: the HTTP/2 counter never moves, HTTP/1.1 gets it
        original(self, "downstream_rq_http1" if name == "downstream_rq_http2" else name, n)

    monkeypatch.setattr(conn_manager._Stats, "inc", inc)
    pool = session.ConfigPool.default()
    with pytest.raises(oracles.InvariantViolation, match="model_hcm_requests_per_protocol"):
        for p in sorted(SEEDS.iterdir()):
            session.run_input(pool, p.read_bytes())
