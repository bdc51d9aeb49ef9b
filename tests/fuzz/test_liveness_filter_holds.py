"""Liveness where a network filter holds bytes (fuzz/liveness.py, fuzz/settle.py), each proved on a
mutant `bench mutants proxy/network/filters/fault.py` left alive (reports/bench/mutants-l4-2026-12-05.md):

- stall_tcp_proxy_end_not_relayed: tcp_proxy relays each side's end of stream with its last byte;
  the planted fault filter believes the client's end already passed and never releases it, so an
  upstream that answers once it read to the end waits for ever;
- stall_filter_timer_without_progress: a throttle or delay timer must move some of the bytes it holds
  when it fires; the planted filter ends its delay into a throttle of rate 0 (the `not` of
  `_on_delay_elapsed` dropped), so an HTTP request sent during the delay is never read.
"""

import inspect
from pathlib import Path

import pytest

import proxy.network.filters.fault as fault_filter
from fuzz.bench.mutants import ops
from fuzz.memo import Memo
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from fuzz.targets import network_filter as nf
from proxy.build import build
from proxy.config import load_bytes

SEEDS = Path(nf.__file__).resolve().parents[2] / "corpus" / "network_filter"


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.setattr(nf, "_CACHE", Memo(256))


def replay(prefix: str):
    for p in sorted(SEEDS.glob(prefix + "*")):
        nf.run(p.read_bytes())


def _line_of(function, text: str) -> int:
    lines, start = inspect.getsourcelines(function)
    return start + next(i for i, line in enumerate(lines) if text in line)


def test_half_closes_behind_a_throttle_reach_the_other_side():
    replay("model-fault-throttle-client-half-closes")
    replay("model-fault-throttle-upstream-half-closes")


def test_an_end_of_stream_the_throttle_never_releases_is_caught(monkeypatch):
    init = fault_filter.FaultFilter.__init__
    line = _line_of(init, "self._end_released = False")
    monkeypatch.setattr(init, "__code__", ops.planted(fault_filter, "FaultFilter.__init__", "False", line=line))
    with pytest.raises(InvariantViolation, match="stall_tcp_proxy_end_not_relayed"):
        replay("model-fault-throttle-client-half-closes")


DELAY_BEFORE_HTTP = b"""
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filters:
    - fault: {delay_ms: 250}
    - http_connection_manager:
        codec: HTTP1
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
# The request is sent during the delay, and nothing moves the clock after it: settling must.
REQUEST_IN_THE_DELAY = [A("connect"), A("send", 0, payload=b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"), A("read", 0)]


def run_delayed_request():
    return Session(build(load_bytes(DELAY_BEFORE_HTTP, "yaml")), models=True).run(REQUEST_IN_THE_DELAY)


def test_a_request_sent_during_a_delay_is_answered_once_it_ends():
    s = run_delayed_request()
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 200 ")


def test_a_delay_that_ends_into_a_throttle_of_rate_zero_is_caught(monkeypatch):
    elapsed = fault_filter.FaultFilter._on_delay_elapsed
    planted = ops.planted(fault_filter, "FaultFilter._on_delay_elapsed", "not self.config.throttle_bytes_per_sec")
    monkeypatch.setattr(elapsed, "__code__", planted)
    with pytest.raises(InvariantViolation, match="stall_filter_timer_without_progress"):
        run_delayed_request()


def test_a_closing_connection_flushing_through_a_throttle_is_a_wait():
    """An oracle fault of 9b3dcce (stall_filter_timer_without_progress on the clean tree in every
    seedless session run of 2026-12-05): a connection the proxy is closing still writes its response
    through the fault filter's throttle, whose timer filter_timers_due skipped (only open connections
    counted), so settling judged the wait at once, before the timer fired."""
    from fuzz import session

    seed = Path(nf.__file__).resolve().parents[2] / "corpus" / "session"
    data = (seed / "regress-a-closing-connection-flushing-through-a-throttle-is-a-wait").read_bytes()
    session.run_input(session.ConfigPool.default(), data)


def test_an_end_the_harness_write_probe_dropped_is_not_a_stall():
    """An oracle fault of 9b3dcce (stall_tcp_proxy_end_not_relayed on the clean tree, network_filter,
    several times in each seedless 60 s run of 2026-12-05): the harness's WriteProbe dropped the
    downstream write that carried tcp_proxy's relayed end of stream (its mode drops chunks by index);
    the proxy relayed it, the harness withheld it."""
    replay("regress-tcp-proxy-end-dropped-by-the-harness-write-probe")
