"""fuzz/models/lb.py: a ROUND_ROBIN cluster's new connections go to its hosts in turn (Envoy's round
robin load balancer), judged from the connections on the wire; shown on the real proxy, on a planted
round robin that wraps early (the last host never chosen), and on what the model leaves alone."""

import pytest

from fuzz.models import lb
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.build import build
from proxy.config import load_bytes

TCP = """
listeners:
- name: l
  address: {{host: 127.0.0.1, port: 10000}}
  filter_chains:
  - filters: [{{tcp_proxy: {{cluster: c}}}}]
clusters:
- name: c
  lb_policy: {policy}
  endpoints: [{{host: 127.0.0.1, port: 9001}}, {{host: 127.0.0.1, port: 9002}}, {{host: 127.0.0.1, port: 9003}}]
{more}
"""
FOUR_CLIENTS = [A("connect"), A("connect"), A("connect"), A("connect")]


def config(policy="ROUND_ROBIN", more=""):
    return load_bytes(TCP.format(policy=policy, more=more).encode(), "yaml")


def test_four_connections_go_to_three_hosts_in_turn():
    s = Session(build(config()), models=True).run(FOUR_CLIENTS)
    assert [c.remote_address[1] for c in s.network.opened] == [9001, 9002, 9003, 9001]


def test_a_round_robin_that_never_reaches_the_last_host_is_found(monkeypatch):
    from proxy.upstream.lb import RoundRobin

    def choose(self):  # the planted bug: the position wraps one host early
        host = self.hosts[self._next]
        self._next = self._next + 1 if self._next + 1 < len(self.hosts) - 1 else 0
        return host

    monkeypatch.setattr(RoundRobin, "choose", choose)
    with pytest.raises(InvariantViolation) as caught:
        Session(build(config()), models=True).run(FOUR_CLIENTS)
    assert caught.value.name == "model_round_robin_order", str(caught.value)


def test_any_starting_host_is_round_robin_but_a_repeat_is_not():
    boot = config()
    lb.check_round_robin(boot, [("127.0.0.1", p) for p in (9002, 9003, 9001, 9002)])
    with pytest.raises(InvariantViolation):
        lb.check_round_robin(boot, [("127.0.0.1", p) for p in (9001, 9001)])


def test_random_clusters_and_shared_endpoints_are_not_judged():
    repeat = [("127.0.0.1", 9001)] * 3
    lb.check_round_robin(config("RANDOM"), repeat)
    shared = "- {name: d, endpoints: [{host: 127.0.0.1, port: 9001}]}"
    lb.check_round_robin(config(more=shared), repeat)


def test_a_cluster_an_http_route_names_is_not_judged_by_its_connections():
    """HTTP requests choose their host each (Envoy's per-host pools): a request may reuse an idle
    connection to its host, so the connections opened are only some of the choices."""
    http = """
- name: h
  address: {host: 127.0.0.1, port: 10001}
  filter_chains:
  - filters:
    - http_connection_manager:
        route_config:
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes: [{match: {prefix: /}, route: {cluster: c}}]
"""
    text = TCP.format(policy="ROUND_ROBIN", more="").replace("clusters:", http.strip("\n") + "\nclusters:", 1)
    boot = load_bytes(text.encode(), "yaml")
    assert lb._http_routed(boot) == {"c"}
    lb.check_round_robin(boot, [("127.0.0.1", p) for p in (9001, 9001, 9002)])
