"""fuzz/tls_session.py listener_filters_waited_on_enough_bytes: a connection whose client's bytes
already settle what its listener filters look for is not left waiting in them. Shown on the real
proxy (a PROXY header and a request line in one segment are passed on; a partial request line
waits) and on a planted class: the stage does not feed the next filter the bytes it already holds,
planted as that mutant of ListenerFilterStage._run (fuzz/bench/mutants)."""

import pytest

from fuzz.bench.mutants import ops
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.build import build
from proxy.config import load_bytes
from proxy.network import listener_filter

CONFIG = b"""
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  listener_filters: [{proxy_protocol: {}}, {http_inspector: {}}]
  filter_chains:
  - filters: [{tcp_proxy: {cluster: c}}]
clusters:
- {name: c, endpoints: [{host: 127.0.0.1, port: 9001}]}
"""
HEADER = b"PROXY TCP4 192.0.2.7 127.0.0.1 5000 10000\r\n"
WHOLE = [A("connect"), A("send", 0, payload=HEADER + b"GET / HTTP/1.1\r\n\r\n")]
PARTIAL = [A("connect"), A("send", 0, payload=HEADER + b"GE")]


def run(actions):
    return Session(build(load_bytes(CONFIG, "yaml")), models=True).run(actions)


def test_bytes_that_settle_the_filters_are_passed_on():
    assert run(WHOLE).downstream[0].conn.stream_info["filter_chain"] == "filter_chains[0]"


def test_bytes_that_leave_the_answer_open_may_wait():
    assert "filter_chain" not in run(PARTIAL).downstream[0].conn.stream_info


def test_held_bytes_not_fed_to_the_next_filter_are_found(monkeypatch):
    code = ops.planted(listener_filter, "ListenerFilterStage._run", "not self.held")
    monkeypatch.setattr(listener_filter.ListenerFilterStage._run, "__code__", code)
    with pytest.raises(InvariantViolation) as caught:
        run(WHOLE)
    assert caught.value.name == "listener_filters_waited_on_enough_bytes", str(caught.value)
