"""fuzz/models/tcp_proxy_stats.py: tcp_proxy's counters agree with what the peers saw. Shown on the
real proxy (relayed bytes both ways, a refused upstream, a full cluster) and on planted classes: a
connection or an upstream not counted (mutants of the filter, fuzz/bench/mutants), upstream bytes
counted twice."""

import pytest

from fuzz.bench.mutants import ops
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.build import build
from proxy.config import load_bytes
from proxy.network.filters import tcp_proxy

CONFIG = b"""
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filters: [{tcp_proxy: {cluster: c, stat_prefix: t}}]
clusters:
- {name: c, endpoints: [{host: 127.0.0.1, port: 9000}], max_connections: 1}
"""
RELAY = [
    A("connect"),
    A("upstream_connect"),
    A("send", 0, payload=b"ping"),
    A("upstream_send", 0, payload=b"pong!"),
    A("read", 0),
]
FULL = RELAY + [A("connect")]  # max_connections 1: the second connection overflows


def run(actions):
    return Session(build(load_bytes(CONFIG, "yaml")), models=True).run(actions)


def test_relayed_bytes_and_an_overflow_are_counted_as_the_peers_saw_them():
    counters = run(FULL).ctx.stats.counters
    assert counters["tcp_proxy.downstream_cx_total"] == 2
    assert counters["tcp_proxy.upstream_cx_total"] == 1
    assert counters["tcp_proxy.upstream_cx_overflow"] == 1
    assert counters["tcp_proxy.upstream_bytes_rx"] == 5
    assert counters["tcp_proxy.t.downstream_bytes_rx"] == 4


@pytest.mark.parametrize("counter", ["downstream_cx_total", "upstream_cx_total"])
def test_a_connection_not_counted_is_found(monkeypatch, counter):
    code = ops.planted(tcp_proxy, "TcpProxyFilter.on_new_connection", f"self.stats.inc('{counter}')")
    monkeypatch.setattr(tcp_proxy.TcpProxyFilter.on_new_connection, "__code__", code)
    with pytest.raises(InvariantViolation) as caught:
        run(FULL)
    assert caught.value.name == "model_tcp_proxy_counters", str(caught.value)
    assert counter in caught.value.detail


def test_upstream_bytes_counted_twice_are_found(monkeypatch):
    original = tcp_proxy.TcpProxyFilter._on_upstream_data

    def counted_twice(self, data, end_stream):
        self.stats.inc("upstream_bytes_rx", len(data))
        original(self, data, end_stream)

    monkeypatch.setattr(tcp_proxy.TcpProxyFilter, "_on_upstream_data", counted_twice)
    with pytest.raises(InvariantViolation) as caught:
        run(RELAY)
    assert "upstream_bytes_rx 10, 5 bytes read" in caught.value.detail, str(caught.value)
