"""build(): a validated Bootstrap -> an immutable BuiltConfig, made once and instantiated many times."""

import dataclasses
import ipaddress
import re
import ssl
import types

import pytest
import re2

from proxy.build import BuildError, BuiltConfig, build, instantiate
from proxy.event import SimulatedDispatcher
from proxy.network import registry
from proxy.network.sim import SimNetwork

from tests.fuzz.test_build_harness import L4, bootstrap, tcp_config

ISSUE_EXAMPLE = {
    "listeners": [
        {
            "name": "tcp_in",
            "address": {"host": "127.0.0.1", "port": 10000},
            "filter_chains": [{"filters": [{"tcp_proxy": {"cluster": "echo"}}]}],
        }
    ],
    "clusters": [{"name": "echo", "endpoints": [{"host": "127.0.0.1", "port": 9000}]}],
}

# Values with no mutable state (a compiled regex, Python's or RE2's, cannot be changed after compile; a TLS context is
# configured once at build and keeps nothing a later connection can observe: proxy/tls/context.py).
_LEAVES = (
    str,
    bytes,
    int,
    float,
    bool,
    type(None),
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    re.Pattern,
    type(re2.compile(b"")),  # RE2's compiled program (routes' safe_regex); its class is private
    ssl.SSLContext,
)


def assert_deeply_immutable(obj, path="built", seen=None):
    """Walk everything reachable from obj; fail on any container or object that can change."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, _LEAVES):
        return
    seen.add(id(obj))
    if isinstance(obj, (tuple, frozenset)):
        for i, item in enumerate(obj):
            assert_deeply_immutable(item, f"{path}[{i}]", seen)
    elif isinstance(obj, types.MappingProxyType):
        for key, value in obj.items():
            assert_deeply_immutable(key, f"{path}.key", seen)
            assert_deeply_immutable(value, f"{path}[{key!r}]", seen)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        assert type(obj).__dataclass_params__.frozen, f"{path}: {type(obj).__name__} is not frozen"
        for f in dataclasses.fields(obj):
            assert_deeply_immutable(getattr(obj, f.name), f"{path}.{f.name}", seen)
    elif isinstance(obj, types.FunctionType):
        for i, cell in enumerate(obj.__closure__ or ()):
            assert_deeply_immutable(cell.cell_contents, f"{path}<closure {obj.__name__}:{i}>", seen)
        assert not obj.__defaults__ or all(isinstance(d, _LEAVES) for d in obj.__defaults__)
    else:
        raise AssertionError(f"{path}: mutable {type(obj).__name__} reachable from the built config")


def full_config():
    cfg = tcp_config(
        {"rbac": {"action": "DENY", "policies": [{"name": "p", "source_prefixes": ["10.9.0.0/16"]}]}},
        {"local_ratelimit": {"max_tokens": 2, "tokens_per_fill": 1, "fill_interval_ms": 100}},
        {"fault": {"delay_ms": 0, "throttle_bytes_per_sec": 0}},
        cluster={"endpoints": [{"host": "127.0.0.1", "port": 9000}, {"host": "127.0.0.1", "port": 9001}]},
    )
    cfg["listeners"][0]["filter_chains"][0]["filter_chain_match"] = {"source_prefix_ranges": ["10.0.0.0/8"]}
    return cfg


def test_the_issue_example_builds():
    built = build(bootstrap(ISSUE_EXAMPLE))
    (listener,) = built.listeners
    assert (listener.name, listener.address, listener.buffer_limit) == ("tcp_in", ("127.0.0.1", 10000), 1 << 20)
    assert listener.filter_chains[0].filter_names == ("tcp_proxy",)
    assert built.clusters["echo"].hosts[0].port == 9000
    assert built.listener("tcp_in") is listener
    assert bootstrap(ISSUE_EXAMPLE).SerializeToString(deterministic=True) == built.source


def test_everything_reachable_from_a_built_config_is_immutable():
    built = build(bootstrap(full_config()))
    assert_deeply_immutable(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.listeners = ()
    with pytest.raises(TypeError):
        built.clusters["new"] = None


def test_the_walker_catches_mutable_state():
    @dataclasses.dataclass(frozen=True)
    class Holder:
        items: object

    with pytest.raises(AssertionError):
        assert_deeply_immutable(Holder(items=[1]))
    state = {}
    with pytest.raises(AssertionError):
        assert_deeply_immutable((lambda: state,))


def test_the_built_config_keeps_no_reference_to_the_message():
    msg = bootstrap(full_config())
    built = build(msg)
    msg.listeners[0].name = "changed"
    msg.clusters[0].endpoints[0].port = 1
    assert built.listeners[0].name == "tcp_in" and built.clusters["echo"].hosts[0].port == 9000


def test_two_instances_of_one_build_share_no_mutable_state():
    built = build(bootstrap(full_config()))
    first = L4(None, built=built)
    for _ in range(3):  # round robin moves, the bucket empties
        first.accept(remote=("10.1.0.1", 1))
    assert first.counter("local_ratelimit.rate_limited") == 1
    second = L4(None, built=built)
    conn, _ = second.accept(remote=("10.1.0.1", 1))
    assert conn.is_open  # a full bucket of its own
    assert second.net.opened[0].remote_address == ("127.0.0.1", 9000)  # round robin from the start
    assert second.counter("local_ratelimit.rate_limited") == 0
    assert second.counter("listener.tcp_in.downstream_cx_total") == 1
    assert first.ctx.cluster_manager is not second.ctx.cluster_manager
    assert first.ctx.stats is not second.ctx.stats and first.ctx.shared is not second.ctx.shared
    assert_deeply_immutable(built)  # running instances changed nothing in it


def test_instantiate_gives_a_fresh_seeded_context():
    built = build(bootstrap(ISSUE_EXAMPLE))
    d = SimulatedDispatcher()
    a = instantiate(built, d, SimNetwork(d), seed=5)
    b = instantiate(built, d, SimNetwork(d), seed=5)
    assert a.random.random() == b.random.random()
    assert a.cluster_manager.get("echo") is not None and a.cluster_manager.ctx is a


def test_an_unregistered_filter_is_an_error_only_when_a_config_uses_it(monkeypatch):
    monkeypatch.delitem(registry._NETWORK_FILTERS._factories, "http_connection_manager", raising=False)
    build(bootstrap(ISSUE_EXAMPLE))  # not used: fine
    cfg = tcp_config(
        chains=[
            {
                "filters": [
                    {"http_connection_manager": {"route_config": {"virtual_hosts": [{"name": "v", "domains": ["*"]}]}}}
                ]
            }
        ]
    )
    with pytest.raises(BuildError) as err:
        build(bootstrap(cfg))
    assert err.value.path == "listeners[0].filter_chains[0].filters[0].http_connection_manager"
    assert "no network filter is registered" in str(err.value)


def test_an_unknown_cluster_is_a_build_error_naming_the_field():
    cfg = tcp_config()
    cfg["listeners"][0]["filter_chains"][0]["filters"][0]["tcp_proxy"]["cluster"] = "nowhere"
    with pytest.raises(BuildError, match=r"filters\[0\]\.tcp_proxy\.cluster: unknown cluster 'nowhere'"):
        build(bootstrap(cfg))


def test_all_zero_weights_are_a_build_error():
    cfg = tcp_config()
    cfg["listeners"][0]["filter_chains"][0]["filters"][0] = {
        "tcp_proxy": {"weighted_clusters": {"clusters": [{"name": "echo", "weight": 0}]}}
    }
    with pytest.raises(BuildError, match="weights must not all be 0"):
        build(bootstrap(cfg))


def test_duplicate_names_are_build_errors():
    cfg = tcp_config()
    cfg["clusters"].append(dict(cfg["clusters"][0]))
    with pytest.raises(BuildError, match=r"clusters\[1\]\.name"):
        build(bootstrap(cfg))
    cfg = tcp_config()
    cfg["listeners"].append(dict(cfg["listeners"][0]))
    with pytest.raises(BuildError, match=r"listeners\[1\]\.name"):
        build(bootstrap(cfg))


def test_a_malformed_chain_prefix_is_a_build_error():
    cfg = tcp_config()
    cfg["listeners"][0]["filter_chains"][0]["filter_chain_match"] = {"source_prefix_ranges": ["10.0.0.0/33"]}
    with pytest.raises(BuildError) as err:
        build(bootstrap(cfg))
    assert err.value.path.endswith("filter_chain_match.source_prefix_ranges[0]")


def test_built_config_type():
    assert isinstance(build(bootstrap(ISSUE_EXAMPLE)), BuiltConfig)


def _example_files():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    return sorted((root / "examples").glob("*.yaml")) + sorted((root / "corpus" / "session_configs").glob("*.yaml"))


@pytest.mark.parametrize("path", _example_files(), ids=lambda p: p.name)
def test_every_example_and_session_config_that_validates_also_builds(path):
    from proxy.config import load_file

    bootstrap_msg = load_file(path)
    used = {
        f.WhichOneof("filter")
        for listener in bootstrap_msg.listeners
        for c in listener.filter_chains
        for f in c.filters
    }
    missing = used - set(registry.registered_network_filters())
    if missing:
        pytest.skip(f"{path.name} uses {sorted(missing)}, not registered in this build yet")
    built = build(bootstrap_msg)
    assert_deeply_immutable(built)
    L4(None, built=built).accept()
