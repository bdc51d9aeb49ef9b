"""model_filter_chain_refusal and model_no_filter_chain_match_counter (fuzz/models/chain_refusal.py),
proved on mutants `bench mutants proxy/network/listener.py` left alive (reports/bench/mutants-l4-
2026-12-05.md): create_connection refusing every connection whose chain matched (`chain is None`
negated: every session passed, its clients' actions on no connection doing nothing), and refusing
without counting no_filter_chain_match."""

import pytest

import proxy.network.listener as listener
from fuzz.bench.mutants import ops
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.build import build
from proxy.config import load_bytes

# One chain for server name "a" only: a client naming no server matches nothing and is refused.
CONFIG = b"""
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filter_chain_match: {server_names: ["a"]}
    filters:
    - tcp_proxy: {cluster: web}
clusters:
- {name: web, endpoints: [{host: 127.0.0.1, port: 9080}]}
"""
ECHO = [A("send", 0, payload=b"hi"), A("upstream_connect"), A("upstream_read"), A("upstream_send", payload=b"yo")]


def test_a_matching_connection_is_served_and_a_stray_one_refused_and_counted():
    s = Session(build(load_bytes(CONFIG, "yaml")), models=True).run([A("connect")] + ECHO)
    assert s.downstream[0].conn is None  # no server name: no chain
    assert s.ctx.stats.counters["listener.l.no_filter_chain_match"] == 1


def _plant(monkeypatch, before):
    method = listener.BuiltListener.create_connection
    monkeypatch.setattr(method, "__code__", ops.planted(listener, "BuiltListener.create_connection", before))


def test_a_listener_refusing_what_its_chain_matches_is_caught(monkeypatch):
    _plant(monkeypatch, "chain is None")
    with pytest.raises(InvariantViolation, match="model_filter_chain_refusal"):
        Session(build(load_bytes(CONFIG, "yaml")), models=True).run([A("connect")] + ECHO)


def test_a_refusal_not_counted_is_caught(monkeypatch):
    _plant(monkeypatch, "ctx.stats.inc(prefix + 'no_filter_chain_match')")
    with pytest.raises(InvariantViolation, match="model_no_filter_chain_match_counter"):
        Session(build(load_bytes(CONFIG, "yaml")), models=True).run([A("connect")] + ECHO)
