"""The stage-1 pool is for data-plane sessions: generated configurations draw what session requests
carry (domains, paths, header fields, percentages, ports, timeouts: fuzz/configgen/_formats.py),
with the weights and list sizes of fuzz/configgen/_facts.py, still valid; gen-configs
--for-sessions keeps configurations whose routes sessions reach (fuzz/pool_reach.py), and the
committed pool is mostly such configurations."""

import random
import subprocess
import sys
from pathlib import Path

from hypothesis import strategies as st

from fuzz import configgen
from fuzz.configgen import _formats as formats
from fuzz.configgen._draw import BytesToValue, weighted
from fuzz.pool_reach import USEFUL_SHARE, probe
from proxy.build import build
from proxy.config import load_file
from proxy.config.validate import check_rules

REPO = Path(__file__).resolve().parents[3]
POOL_DIR = REPO / "corpus" / "session_configs"


def _draws(strategy, n=400, seed=1):
    draw, rng = BytesToValue(strategy), random.Random(seed)
    return [draw(rng.randbytes(64)) for _ in range(n)]


def test_weighted_draws_each_choice_in_proportion_and_the_first_from_zeros():
    # Hypothesis's one_of keeps one of several identical branches: repeating a strategy object
    # in a one_of gives no weight at all, which is the trap weighted() avoids.
    a = st.sampled_from(["a"])
    values = _draws(weighted([(a, 3), (st.just("b"), 1)]))
    assert 0.65 < values.count("a") / len(values) < 0.85
    assert BytesToValue(weighted([(st.just("b"), 1), (a, 3)]))(bytes(64)) == "b"


def test_http_formats_draw_mostly_what_session_requests_carry():
    for name, common in (
        ("domain", formats._DOMAINS),
        ("route_path", formats._ROUTE_PATHS),
        ("header_name", formats._HEADER_NAMES),
        ("header_value", formats._HEADER_VALUES),
    ):
        strategy = formats.strategy(name, 253)
        assert BytesToValue(strategy)(bytes(64)) == common[0]  # the simplest draw
        values = _draws(strategy)
        share = sum(v in common for v in values) / len(values)
        assert 0.6 < share < 0.9, (name, share)  # the rest at random: the matchers' other outcomes


def test_cidr_ranges_often_hold_a_session_source():
    import ipaddress

    values = _draws(formats.strategy("cidr", 64))
    holding = [
        v
        for v in values
        if any(ipaddress.ip_address(s) in ipaddress.ip_network(v, strict=False) for s in formats.SESSION_SOURCES)
    ]
    assert len(holding) > len(values) / 2


def test_session_sources_are_the_addresses_sessions_connect_from():
    from fuzz import session

    assert set(formats.SESSION_SOURCES) == set(session.SOURCES)


def test_number_formats_keep_to_the_fields_rules():
    # connect_timeout_ms is gte 1: the timeout format's 0 (off, elsewhere) never reaches it.
    pool = configgen.pool(12, seed=4)
    timeouts = [c.connect_timeout_ms for b in pool for c in b.clusters if c.HasField("connect_timeout_ms")]
    assert timeouts and min(timeouts) >= 1
    for bootstrap in pool:
        assert check_rules(bootstrap) == []


def test_list_and_oneof_biases_hold_in_generated_configs():
    routes = header_lists = forwarding = 0
    for bootstrap in configgen.pool(16, seed=7):
        for listener in bootstrap.listeners:
            assert len(listener.listener_filters) <= 1
            for chain in [*listener.filter_chains, listener.default_filter_chain]:
                for f in chain.filters:
                    if f.WhichOneof("filter") != "http_connection_manager":
                        continue
                    for vh in f.http_connection_manager.route_config.virtual_hosts:
                        assert len(vh.routes) >= 1  # MIN_ITEMS: no virtual host that 404s everything
                        for route in vh.routes:
                            routes += 1
                            header_lists += len(route.match.headers)
                            forwarding += route.WhichOneof("action") == "route"
    assert routes and header_lists <= routes  # MAX_ITEMS: one header matcher a route at most
    assert forwarding / routes > 0.6  # MEMBER_WEIGHTS: a route forwards 3 times in 4


def test_chain_criteria_and_policy_conditions_are_few_and_connects_time_out_first():
    # ABSENT_WEIGHTS: a chain (an RBAC policy) matches only where every criterion (condition) it
    # sets does, so each is drawn mostly absent; connect timeouts are drawn shorter than request
    # timeouts (the connect_timeout_ms format), so a timed-out connect is retried or answered first.
    criteria, chains, shorter, timed = 0, 0, 0, 0
    for bootstrap in configgen.pool(16, seed=8):
        for listener in bootstrap.listeners:
            for chain in listener.filter_chains:
                chains += 1
                criteria += len(chain.filter_chain_match.ListFields())
        for cluster in bootstrap.clusters:
            if cluster.HasField("connect_timeout_ms"):
                timed += 1
                shorter += cluster.connect_timeout_ms < 250
    assert chains and criteria / chains < 2.5
    assert timed and shorter / timed > 0.5


def test_absent_weights_empty_lists_only_where_the_rules_allow():
    from fuzz.configgen._messages import MessageStrategies
    from proxy.config import schema

    listeners = schema.BOOTSTRAP_DESCRIPTOR.fields_by_name["listeners"]  # min_items: 1
    names = listeners.message_type.fields_by_name["filter_chains"].message_type.fields_by_name["filter_chain_match"]
    names = names.message_type.fields_by_name["server_names"]
    gen = MessageStrategies(configgen.DEFAULT_BOUNDS, absent_weights={listeners.full_name: 9, names.full_name: 9})
    kept = st.just(["as drawn"])
    assert gen._maybe_absent(listeners, kept, st.just([])) is kept
    drawn = _draws(gen._field(names, 0))
    assert 0.8 < sum(not v for v in drawn) / len(drawn) < 1


def _bootstrap_yaml(text):
    from proxy.config import load_bytes

    return load_bytes(text.encode(), "yaml")


NOWHERE = """
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filters:
    - http_connection_manager:
        route_config:
          virtual_hosts:
          - name: v
            domains: [nowhere.test]
            routes:
            - match: {prefix: "/", headers: [{name: x-never, exact: "\\u0001"}]}
              route: {cluster: web}
clusters:
- {name: web, endpoints: [{host: 127.0.0.1, port: 9080}]}
"""


def test_the_probe_tells_a_reachable_route_table_from_one_nothing_reaches():
    assert probe(build(load_file(REPO / "examples" / "http.yaml"))).http > 0
    unreachable = probe(build(_bootstrap_yaml(NOWHERE)))
    assert (unreachable.http, unreachable.relayed) == (0, 0)
    relay = probe(build(load_file(REPO / "examples" / "tcp_proxy.yaml")))
    assert relay.http == 0 and relay.relayed > 0  # bytes relayed, no HTTP request seen as one


def test_the_committed_pool_is_mostly_reached_by_session_requests():
    """Fails when the pool again becomes mostly unreachable (40 generated configurations, 1 of which
    routed a session's request before gen-configs --for-sessions)."""
    generated = sorted(POOL_DIR.glob("config-s*.yaml"))
    assert len(generated) >= 16
    reached = [p.name for p in generated if probe(build(load_file(p))).share >= USEFUL_SHARE]
    assert len(reached) >= 0.7 * len(generated), f"only {len(reached)} of {len(generated)}: {reached}"


def test_gen_configs_for_sessions_writes_configurations_sessions_reach(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "fuzz", "gen-configs", "2", "--out", str(tmp_path), "--seed", "5", "--for-sessions"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    first = tmp_path / "config-s5-0000.yaml"
    assert "--for-sessions" in first.read_text().splitlines()[1]
    assert probe(build(load_file(first))).share >= USEFUL_SHARE
