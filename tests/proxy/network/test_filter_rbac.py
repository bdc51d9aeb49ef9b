"""rbac network filter: allow / deny by source prefix and destination port; shadow mode counts only."""

import pytest

from proxy.build import BuildError, build
from proxy.network.connection import State

from tests.fuzz.test_build_harness import L4, bootstrap, tcp_config


def rbac(action="ALLOW", policies=(), shadow=False):
    return {"rbac": {"action": action, "policies": list(policies), "shadow": shadow}}


OFFICE = {"name": "office", "source_prefixes": ["10.1.0.0/16"]}
PORT_10000 = {"name": "port", "destination_ports": [10000]}


def test_allow_action_lets_a_matching_source_through_to_the_upstream():
    p = L4(tcp_config(rbac("ALLOW", [OFFICE])))
    down, client = p.accept(remote=("10.1.2.3", 40000))
    assert down.is_open and len(p.net.opened) == 1
    assert p.counter("rbac.allowed") == 1
    assert down.stream_info["rbac_policy"] == "office"


def test_allow_action_denies_a_source_no_policy_matches_with_nothing_sent_upstream():
    p = L4(tcp_config(rbac("ALLOW", [OFFICE])))
    down, client = p.accept(remote=("192.168.0.9", 40000))
    client.peer_send(b"let me in")
    p.run()
    assert down.state is State.CLOSED
    assert p.net.opened == []  # tcp_proxy never reached: no upstream
    assert client.received == b""
    assert p.counter("rbac.denied") == 1 and p.counter("tcp_proxy.downstream_cx_total") == 0


def test_deny_action_denies_matching_connections_and_allows_the_rest():
    p = L4(tcp_config(rbac("DENY", [OFFICE])))
    denied, _ = p.accept(remote=("10.1.200.1", 1))
    allowed, _ = p.accept(remote=("10.2.0.1", 1))
    assert denied.state is State.CLOSED and allowed.is_open
    assert (p.counter("rbac.denied"), p.counter("rbac.allowed")) == (1, 1)


def test_a_policy_needs_every_condition_it_sets():
    both = {"name": "both", "source_prefixes": ["10.1.0.0/16"], "destination_ports": [10000]}
    p = L4(tcp_config(rbac("ALLOW", [both])))
    ok, _ = p.accept(remote=("10.1.0.1", 1), local_port=10000)
    wrong_port, _ = p.accept(remote=("10.1.0.1", 1), local_port=10001)
    wrong_source, _ = p.accept(remote=("10.9.0.1", 1), local_port=10000)
    assert ok.is_open
    assert wrong_port.state is State.CLOSED and wrong_source.state is State.CLOSED


def test_destination_port_policy_and_ipv6_prefixes():
    v6 = {"name": "v6", "source_prefixes": ["2001:db8::/32"]}
    p = L4(tcp_config(rbac("ALLOW", [PORT_10000, v6])))
    by_port, _ = p.accept(remote=("192.0.2.1", 1), local_port=10000)
    by_v6, _ = p.accept(remote=("2001:db8::7", 1), local_port=10002)
    other_v6, _ = p.accept(remote=("2001:db9::7", 1), local_port=10002)
    assert by_port.is_open and by_v6.is_open and other_v6.state is State.CLOSED


def test_no_policies_allow_action_denies_everything_deny_action_allows_everything():
    p = L4(tcp_config(rbac("ALLOW", [])))
    assert p.accept()[0].state is State.CLOSED
    p = L4(tcp_config(rbac("DENY", [])))
    assert p.accept()[0].is_open


def test_a_source_that_is_not_an_ip_matches_no_prefix():
    p = L4(tcp_config(rbac("ALLOW", [OFFICE])))
    down, _ = p.accept(remote=("not-an-ip", 1))
    assert down.state is State.CLOSED


def test_shadow_mode_counts_what_it_would_deny_but_lets_everything_through():
    p = L4(tcp_config(rbac("ALLOW", [OFFICE], shadow=True)))
    would_deny, client = p.accept(remote=("192.168.0.9", 1))
    would_allow, _ = p.accept(remote=("10.1.0.1", 1))
    assert would_deny.is_open and would_allow.is_open and len(p.net.opened) == 2
    assert p.counter("rbac.shadow_denied") == 1 and p.counter("rbac.shadow_allowed") == 1
    assert p.counter("rbac.denied") == 0 and p.counter("rbac.allowed") == 0
    up, server = p.connect_upstream(0)
    client.peer_send(b"through")
    assert server.peer_read() == b"through"


def test_stat_prefix_adds_a_scoped_counter():
    f = rbac("DENY", [])
    f["rbac"]["stat_prefix"] = "edge"
    p = L4(tcp_config(f))
    p.accept()
    assert p.counter("rbac.allowed") == 1 and p.counter("rbac.edge.allowed") == 1


def test_a_malformed_prefix_is_a_build_error_naming_the_field():
    bad = {"name": "bad", "source_prefixes": ["300.1.1.1/8"]}
    with pytest.raises(BuildError) as err:
        build(bootstrap(tcp_config(rbac("ALLOW", [bad]))))
    assert err.value.path == "listeners[0].filter_chains[0].filters[0].rbac.policies[0].source_prefixes[0]"
