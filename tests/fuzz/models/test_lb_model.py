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


# -- per request: an HTTP cluster's requests take turns (check_round_robin_requests) --------------------
HTTP = """
listeners:
- name: h
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filters:
    - http_connection_manager:
        route_config:
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes: [{match: {prefix: /}, route: {cluster: c}}]
clusters:
- name: c
  endpoints: [{host: 127.0.0.1, port: 9001}, {host: 127.0.0.1, port: 9002}, {host: 127.0.0.1, port: 9003}]
"""


def keep_alive_requests(n: int) -> list:
    """One client's n requests in turn on one connection, each answered before the next."""
    out = [A("connect"), A("upstream_accept_next", value=3)]
    for i in range(n):
        out += [A("send_request", payload=bytes(8)), A("upstream_read", i), A("upstream_respond", i), A("read")]
    return out


def run_http(actions) -> Session:
    return Session(build(load_bytes(HTTP.encode(), "yaml")), models=True).run(actions)


def test_a_keep_alive_clients_requests_go_to_the_hosts_in_turn():
    s = run_http(keep_alive_requests(4))
    seen = [up.endpoint[1] for ex in s.peers.exchanges for up in ex.upstreams]
    assert seen == [9001, 9002, 9003, 9001]


def _wraps_early(self):  # lb-round-robin-skips-last-host: the position wraps one host early
    host = self.hosts[self._next]
    self._next = self._next + 1 if self._next + 1 < len(self.hosts) - 1 else 0
    return host


def _any_idle_connection(pool_module):
    """A pool whose request takes any idle connection of the cluster, not one to the host the load
    balancer chose for it (the per-connection balancing before 64f7327)."""
    source = open(pool_module.__file__).read()
    wrong = source.replace("if pc.host == host and pc.can_take():", "if pc.can_take():")
    assert wrong != source
    namespace = dict(vars(pool_module))
    exec(compile(wrong, pool_module.__file__, "exec"), namespace)
    return namespace["ClusterHttpPool"]


@pytest.mark.parametrize("plant", ["first host", "wraps early", "any idle connection"])
def test_requests_that_do_not_take_turns_are_found(monkeypatch, plant):
    from proxy.upstream import pool
    from proxy.upstream.lb import RoundRobin

    if plant == "first host":
        monkeypatch.setattr(RoundRobin, "choose", lambda self: self.hosts[0])
    elif plant == "wraps early":
        monkeypatch.setattr(RoundRobin, "choose", _wraps_early)
    else:
        monkeypatch.setattr(pool, "ClusterHttpPool", _any_idle_connection(pool))
    with pytest.raises(InvariantViolation) as caught:
        run_http(keep_alive_requests(4))
    assert caught.value.name == "model_round_robin_requests", str(caught.value)


def test_request_counts_any_stretch_of_the_cycle_but_no_gap():
    boot = load_bytes(HTTP.encode(), "yaml")
    hosts = [("127.0.0.1", p) for p in (9001, 9002, 9003)]
    counters = {"cluster.c.upstream_rq_total": 5}
    lb.check_round_robin_requests(boot, counters, [("c", h) for h in hosts + hosts[1:]])  # 1, 2, 2
    lb.check_round_robin_requests(boot, counters, [("c", h) for h in hosts + [hosts[2], hosts[0]]])  # 2, 1, 2
    with pytest.raises(InvariantViolation):
        lb.check_round_robin_requests(boot, counters, [("c", h) for h in hosts[:2] * 2 + hosts[:1]])  # 3, 2, 0
    counters["cluster.c.upstream_rq_total"] = 4
    four = "endpoints: [{host: 127.0.0.1, port: 9001}, {host: 127.0.0.1, port: 9002}, {host: 127.0.0.1, port: 9003}, {host: 127.0.0.1, port: 9004}]"
    boot4 = load_bytes(HTTP.replace(HTTP.splitlines()[-1], "  " + four).encode(), "yaml")
    with pytest.raises(InvariantViolation):  # hosts 1 and 3 twice, 2 and 4 never: not one stretch
        lb.check_round_robin_requests(boot4, counters, [("c", ("127.0.0.1", p)) for p in (9001, 9003, 9001, 9003)])


def test_requests_are_not_judged_where_a_choice_may_have_gone_unseen():
    """A choice whose request no upstream read and whose host is not known (an overflow, a request
    cancelled while pending, a request the proxy attached and never sent, a connect failure with no
    failed connection to place it on) could be any host's: the counts are not judged then."""
    boot = load_bytes(HTTP.encode(), "yaml")
    first = [("c", ("127.0.0.1", 9001))] * 2
    lb.check_round_robin_requests(boot, {"cluster.c.upstream_rq_total": 3}, first)
    lb.check_round_robin_requests(boot, {"cluster.c.upstream_rq_total": 2, "cluster.c.upstream_rq_cancelled": 1}, first)
    lb.check_round_robin_requests(
        boot, {"cluster.c.upstream_rq_total": 2, "cluster.c.upstream_rq_pending_failure_eject": 1}, first
    )
    lb.check_round_robin_requests(
        load_bytes(HTTP.replace("- name: c\n", "- name: c\n  lb_policy: RANDOM\n").encode(), "yaml"),
        {"cluster.c.upstream_rq_total": 2},
        first,
    )


def test_the_committed_turn_taking_seeds_are_judged_and_find_a_balancer_stuck_on_one_host(monkeypatch):
    """corpus/session/*-requests_take_turns-* (fuzz.session_seeds turns_script): small seeds, run early
    by libFuzzer (it runs its corpus smallest first), each judged by check_round_robin_requests."""
    from pathlib import Path

    from fuzz.session import ConfigPool, run_input
    from proxy.upstream.lb import RoundRobin

    seeds = sorted(Path(__file__).resolve().parents[3].glob("corpus/session/*-requests_take_turns-*"))[:3]
    assert len(seeds) == 3
    pool = ConfigPool.default()
    for seed in seeds:
        run_input(pool, seed.read_bytes())
    monkeypatch.setattr(RoundRobin, "choose", lambda self: self.hosts[0])
    for seed in seeds:
        with pytest.raises(InvariantViolation) as caught:
            run_input(pool, seed.read_bytes())
        assert caught.value.name == "model_round_robin_requests", seed.name


# -- connect failures: the attempts they ended are choices no upstream saw, on the failed hosts ----------
RETRIES = HTTP.replace("route: {cluster: c}", "route: {cluster: c, retry_policy: {num_retries: 2}}")


def refused_first_attempts(n: int) -> list:
    """One client's n requests in turn; each request's first connection attempt is refused, the
    retry's connection comes up (an attempt that finds an idle connection to its host takes it)."""
    out = [A("connect")]
    for i in range(n):
        out += [A("send_request", payload=bytes(8)), A("upstream_fail"), A("upstream_connect")]
        out += [A("upstream_read", i), A("upstream_respond", i), A("read")]
    return out


def run_retries(actions) -> Session:
    return Session(build(load_bytes(RETRIES.encode(), "yaml")), models=True).run(actions)


def test_connect_failure_runs_are_judged_with_the_failed_attempts_on_the_refused_hosts():
    s = run_retries(refused_first_attempts(4))
    counters = s.ctx.stats.counters
    assert counters["cluster.c.upstream_rq_pending_failure_eject"] >= 1
    assert counters["cluster.c.upstream_rq_total"] == len(s.requests_seen()) == 4
    boot = load_bytes(RETRIES.encode(), "yaml")
    assert lb.judged_requests(boot, counters, s.requests_seen(), s.tcp_choices(), s.pool_failures())


def test_counts_with_failed_attempts_fill_the_cycle_only_on_hosts_that_failed():
    boot = load_bytes(HTTP.encode(), "yaml")
    h1, h2, h3 = [("127.0.0.1", p) for p in (9001, 9002, 9003)]
    counters = {"cluster.c.upstream_rq_total": 2, "cluster.c.upstream_rq_pending_failure_eject": 1}
    lb.check_round_robin_requests(boot, counters, [("c", h2), ("c", h3)], failed=[("c", h1)])  # 1, 1, 1
    with pytest.raises(InvariantViolation):  # host 1 failed, but host 2 is the one the cycle skipped
        lb.check_round_robin_requests(boot, counters, [("c", h1), ("c", h3)], failed=[("c", h1)])
    with pytest.raises(InvariantViolation):  # 0, 2, 0 and one more: no stretch of the cycle
        lb.check_round_robin_requests(boot, counters, [("c", h2), ("c", h2)], failed=[("c", h1)])


def _counted_at_new_stream(monkeypatch):
    """The counting before this fix: upstream_rq_total at new_stream, failed attempts and overflows in."""
    from proxy.upstream.pool import ClusterHttpPool

    count, attach = ClusterHttpPool._count_request, ClusterHttpPool._attach

    def count_every_request(self):
        count(self)
        self.ctx.stats.inc(self.prefix + "upstream_rq_total")

    def attach_uncounted(self, pc, user):
        attach(self, pc, user)
        self.ctx.stats.inc(self.prefix + "upstream_rq_total", -1)

    monkeypatch.setattr(ClusterHttpPool, "_count_request", count_every_request)
    monkeypatch.setattr(ClusterHttpPool, "_attach", attach_uncounted)


@pytest.mark.parametrize("plant", ["counted at new_stream", "wraps early"])
def test_a_connect_failure_run_finds_the_old_counting_and_a_balancer_that_skips_a_host(monkeypatch, plant):
    from proxy.upstream.lb import RoundRobin

    if plant == "wraps early":
        monkeypatch.setattr(RoundRobin, "choose", _wraps_early)
        expected = "model_round_robin_requests"
    else:
        _counted_at_new_stream(monkeypatch)
        expected = "model_upstream_rq_total"
    with pytest.raises(InvariantViolation) as caught:
        run_retries(refused_first_attempts(4))
    assert caught.value.name == expected, str(caught.value)
