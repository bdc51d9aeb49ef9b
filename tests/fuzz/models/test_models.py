"""The reference models on their own (fuzz/models), against cases read off Envoy's documentation."""

import ipaddress

import pytest

from fuzz.models import draws, fault, ratelimit, rbac, stats
from fuzz.targets.route_reference import Request
from proxy.config import schema


def subject(ip="10.0.0.1", port=80, method="GET", path="/", headers=()):
    return rbac.Subject(ip, port, Request(method, "example.com", path, headers))


def engine(action, *policies):
    return rbac.Engine(action, tuple(rbac.Policy(f"p{i}", perms, princs) for i, (perms, princs) in enumerate(policies)))


def test_rbac_actions_with_and_without_policies():
    # rbac.proto RBAC.action; network rbac.proto rules: "If present and empty, DENY."
    assert rbac.evaluate(engine(rbac.ALLOW), subject()) == (False, None)
    assert rbac.evaluate(engine(rbac.DENY), subject()) == (True, None)
    anything = ((rbac.ANY,), (rbac.ANY,))
    assert rbac.evaluate(engine(rbac.ALLOW, anything), subject()) == (True, "p0")
    assert rbac.evaluate(engine(rbac.DENY, anything), subject()) == (False, "p0")


def test_rbac_trees_and_or_not():
    # the product-viewer example of rbac.proto: GET, /products prefix, port 80 or 443
    viewer = (
        "and",
        (
            ("header", rbac._method_matcher("GET")),
            ("url_path_prefix", "/products"),
            ("or", (("destination_port", 80), ("destination_port", 443))),
        ),
    )
    e = engine(rbac.ALLOW, ((viewer,), (rbac.ANY,)))
    assert rbac.evaluate(e, subject(port=443, path="/products/1?x=/y"))[0]
    assert not rbac.evaluate(e, subject(port=8080, path="/products"))[0]
    assert not rbac.evaluate(e, subject(method="POST", path="/products"))[0]
    # url_path is the path without its query
    assert not rbac.evaluate(e, subject(path="/x?/products"))[0]
    negated = engine(rbac.ALLOW, ((("not", viewer),), (rbac.ANY,)))
    assert rbac.evaluate(negated, subject(port=8080, path="/products"))[0]


@pytest.mark.parametrize("plen", range(0, 33))
def test_cidr_every_ipv4_prefix_length(plen):
    base = "10.1.2.3"
    net = rbac.cidr(f"{base}/{plen}")
    ref = ipaddress.ip_network(f"{base}/{plen}", strict=False)
    for edge in rbac.boundary_addresses([f"{base}/{plen}"]):
        assert rbac.in_network(edge, net) == (ipaddress.ip_address(edge) in ref)
    assert rbac.in_network(base, net)
    assert not rbac.in_network("::1", net)


def test_boundary_addresses_straddle_the_prefix():
    edges = rbac.boundary_addresses(["192.168.0.0/23"])
    assert edges == ("192.168.0.0", "192.168.1.0", "192.168.1.255", "192.168.2.0")


def test_converters_follow_the_schema_comments():
    net = schema.Rbac(action=0)
    net.policies.add(name="b", destination_ports=[10010], source_prefixes=["127.0.0.0/8"])
    net.policies.add(name="a")  # no condition: matches everything
    e = rbac.from_network(net)
    assert rbac.evaluate(e, rbac.Subject("8.8.8.8", 1)) == (True, "a")  # lexicographic order
    net = schema.Rbac(action=0)  # a new message: converters remember the ones they saw (configs are immutable)
    net.policies.add(name="b", destination_ports=[10010], source_prefixes=["127.0.0.0/8"])
    e = rbac.from_network(net)
    assert rbac.evaluate(e, rbac.Subject("127.0.0.9", 10010))[0]
    assert not rbac.evaluate(e, rbac.Subject("127.0.0.9", 10011))[0]
    assert not rbac.evaluate(e, rbac.Subject("128.0.0.1", 10010))[0]
    http = schema.message_class(schema.HttpFilter.DESCRIPTOR.fields_by_name["rbac"].message_type)(action=1)
    p = http.policies.add(name="x", methods=["GET", "PUT"], path_prefixes=["/admin"])
    p.headers.add(name="x-canary", exact="yes")
    e = rbac.from_http(http)
    assert not rbac.evaluate(e, subject(method="PUT", path="/admin/x", headers=(("x-canary", "yes"),)))[0]
    assert rbac.evaluate(e, subject(method="PUT", path="/admin/x", headers=(("x-canary", "no"),)))[0]
    assert rbac.evaluate(e, subject(method="POST", path="/admin/x", headers=(("x-canary", "yes"),)))[0]


def test_shadow_lets_everything_through_and_counts_shadow():
    e = engine(rbac.ALLOW)
    assert rbac.decide(e, True, subject()) == rbac.Verdict(True, False, None, (("shadow_denied", 1),))
    assert rbac.decide(e, False, subject()) == rbac.Verdict(False, False, None, (("denied", 1),))


def test_token_bucket_starts_full_and_fills_each_interval():
    # token_bucket.proto: max_tokens is also the initial count; tokens_per_fill each fill_interval
    b = ratelimit.Bucket(max_tokens=2, tokens_per_fill=1, fill_interval_ms=1000)
    assert ratelimit.decisions(b, [0, 0, 0, 999, 1000, 1000, 5000, 5000, 5000]) == [
        True,
        True,
        False,
        False,
        True,
        False,
        True,
        True,
        False,
    ]
    # never more than max_tokens, however long the wait
    b = ratelimit.Bucket(max_tokens=3, tokens_per_fill=2, fill_interval_ms=50)
    assert ratelimit.decisions(b, [0, 0, 0, 0, 50, 50, 50, 10_000] + [10_000] * 3) == [
        True,
        True,
        True,
        False,
        True,
        True,
        False,
        True,
        True,
        True,
        False,
    ]
    # the bucket starts at its first use: fills are due a whole interval after it
    b = ratelimit.Bucket(max_tokens=1, tokens_per_fill=1, fill_interval_ms=1000)
    assert ratelimit.decisions(b, [10, 1009, 1010, 2009, 2010]) == [True, False, True, False, True]


def test_fault_percentages_and_draws():
    assert fault.percent_happens(100, None) and not fault.percent_happens(0, None)
    assert fault.percent_happens(30, 0.2999) and not fault.percent_happens(30, 0.3)
    with pytest.raises(ValueError):
        fault.percent_happens(50, None)
    r = draws.ScriptedRandom(128)
    assert r.random() == 0.5 and r.randrange(100) == ((128 + draws.STEP) % 256) * 100 // 256
    assert [u for u in r.since(0)] == [0.5, ((128 + draws.STEP) % 256) / 256]


def test_network_fault_bounds():
    f = schema.Fault(delay_ms=250, throttle_bytes_per_sec=100)
    assert fault.network_release_ms(f, 40) == 290
    assert [fault.throttle_allowance(f, 0, t) for t in (0, 999, 1000, 7211)] == [100, 100, 200, 800]
    assert fault.throttle_allowance(schema.Fault(), 0, 5) is None


def test_counter_moves_by_family_and_name():
    before = {"rbac.denied": 1}
    after = {"rbac.denied": 2, "rbac.p.denied": 1, "rbac.allowed": 0, "tcp_proxy.denied": 5}
    assert stats.counter_moves(before, after, "rbac", ("allowed", "denied"), {"denied": 1}) == []
    assert stats.counter_moves(before, after, "rbac", ("allowed", "denied"), {"allowed": 1}) == [
        "rbac.denied moved by 1, expected 0",
        "rbac.p.denied moved by 1, expected 0",
        "rbac.allowed moved by 0, expected 1",
        "no rbac counter 'allowed' moved (expected +1)",
    ]
