"""What a delayed or aborted request leaves behind, judged in sessions: the access log flags DI / FI on
exactly the requests the fault filter counts (fuzz/models/flag_counters.py), and a delay's timer
dies with its stream (fuzz/filter_timers.py). Shown on the real proxy and on the mutants of
proxy/http/filters/fault.py that survived the session and http_filter corpora in bench mutants
(planted with fuzz.bench.mutants.ops)."""

from pathlib import Path

import pytest

from fuzz.bench.mutants import ops
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from fuzz.targets import network_filter
from proxy.build import build
from proxy.config import load_bytes
from proxy.http.filters import fault

CONFIG = b"""
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filters:
    - http_connection_manager:
        codec: HTTP1
        access_log: {stdout: true}
        http_filters:
        - fault: {delay_ms: 100, abort_status: 503, abort_percent: PERCENT}
        route_config:
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
            - match: {prefix: "/"}
              route: {cluster: web}
clusters:
- {name: web, endpoints: [{host: 127.0.0.1, port: 9080}]}
"""
GET = A("send", 0, payload=b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
DELAYED = [A("connect"), GET, A("advance", value=150), A("upstream_connect"), A("upstream_read"), A("read", 0)]
GONE_WHILE_DELAYED = [A("connect"), GET, A("advance", value=50), A("reset", 0), A("advance", value=100)]


def run(actions, percent=0):
    config = CONFIG.replace(b"PERCENT", str(percent).encode())
    return Session(build(load_bytes(config, "yaml")), models=True).run(actions)


def test_a_delay_is_flagged_and_counted():
    s = run(DELAYED)
    assert s.ctx.stats.counters["http.fault.delays_injected"] == 1
    assert s.models is not None and s.models.access_log.flagged["DI"] == 1


def test_an_abort_is_flagged_and_counted():
    s = run([A("connect"), GET, A("read", 0)], percent=100)
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 503 ")
    assert s.models is not None and s.models.access_log.flagged["FI"] == 1


def test_a_client_gone_during_its_delay_ends_the_delay_with_it():
    s = run(GONE_WHILE_DELAYED)
    assert s.ctx.stats.counters["http.fault.delays_injected"] == 1


def test_a_delay_not_flagged_is_found(monkeypatch):
    before = "cb.stream_info.setdefault('response_flags', []).append('DI')"
    code = ops.planted(fault, "HttpFaultFilter.decode_headers", before)
    monkeypatch.setattr(fault.HttpFaultFilter.decode_headers, "__code__", code)
    with pytest.raises(InvariantViolation) as caught:
        run(DELAYED)
    assert caught.value.name == "model_fault_delay_flags", str(caught.value)


def test_a_delay_timer_left_armed_by_on_destroy_is_found(monkeypatch):
    code = ops.planted(fault, "HttpFaultFilter.on_destroy", "self._timer.disable()")
    monkeypatch.setattr(fault.HttpFaultFilter.on_destroy, "__code__", code)
    with pytest.raises(InvariantViolation) as caught:
        run(GONE_WHILE_DELAYED)
    assert caught.value.name == "http_filter_timer_after_destroy", str(caught.value)


# The committed corpora had no delayed request where every connection manager logs (bench mutants
# fault.py after 56c4ce6: the DI mutant still survived them); this network_filter seed is one.
DELAY_LOGGED = (
    Path(__file__).resolve().parents[3] / "corpus" / "network_filter" / "hcm-fault-delay-flagged-di-in-the-access-log"
)


def test_the_network_filter_seed_of_a_logged_delay_agrees():
    network_filter.run(DELAY_LOGGED.read_bytes())


def test_the_network_filter_seed_of_a_logged_delay_catches_the_missing_flag(monkeypatch):
    before = "cb.stream_info.setdefault('response_flags', []).append('DI')"
    code = ops.planted(fault, "HttpFaultFilter.decode_headers", before)
    monkeypatch.setattr(fault.HttpFaultFilter.decode_headers, "__code__", code)
    with pytest.raises(InvariantViolation) as caught:
        network_filter.run(DELAY_LOGGED.read_bytes())
    assert caught.value.name == "model_fault_delay_flags", str(caught.value)
