"""fuzz/models/stats.py, listener downstream_cx_total: one per connection the clients opened, with
listener filters or without; shown on the real proxy and on a planted second count once the listener
filters are done."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.build import build
from proxy.config import load_bytes

TCP = """
listeners:
- name: l
  address: {{host: 127.0.0.1, port: 10000}}
  listener_filters: [{filters}]
  filter_chains:
  - filters: [{{tcp_proxy: {{cluster: c}}}}]
clusters:
- {{name: c, endpoints: [{{host: 127.0.0.1, port: 9001}}]}}
"""
THREE = [A("connect"), A("send", 0, payload=b"GET / HTTP/1.1\r\n\r\n")] * 3


def run(filters):
    return Session(build(load_bytes(TCP.format(filters=filters).encode(), "yaml")), models=True).run(THREE)


@pytest.mark.parametrize("filters", ["", "{http_inspector: {}}"])
def test_each_connection_is_counted_once(filters):
    assert run(filters).ctx.stats.counters["listener.l.downstream_cx_total"] == 3


def test_a_connection_counted_again_after_its_listener_filters_is_found(monkeypatch):
    from proxy.network.listener import BuiltListener

    original = BuiltListener._matched

    def matched(self, conn, ctx):  # the planted bug: counted at accept and once the chain is chosen
        ctx.stats.inc(f"listener.{self.name}.downstream_cx_total")
        original(self, conn, ctx)

    monkeypatch.setattr(BuiltListener, "_matched", matched)
    run("")  # no listener filter: the chain is chosen at accept, never counted twice
    with pytest.raises(InvariantViolation) as caught:
        run("{http_inspector: {}}")
    assert caught.value.name == "model_listener_cx_total", str(caught.value)
