"""fuzz/configgen/ on the proxy's schema: generated configurations pass our rule interpreter,
protoc-gen-validate's validator, the semantic checks and build(); the mapping from bytes is
deterministic (also across processes) and total; bounds hold; gen-configs writes YAML that
`python -m proxy --validate` accepts."""

import os
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz import configgen
from fuzz.configgen import DEFAULT_BOUNDS
from proxy.build import build
from proxy.config import rules as R
from proxy.config.load import load_bytes, load_file
from proxy.config.semantic import all_violations
from proxy.config.validate import check_rules

pgv = pytest.importorskip("protoc_gen_validate.validator")
from tests.proxy.config.test_config_pgv_crosscheck import _pgv_descriptors, pgv_accepts  # noqa: E402,F401

pytestmark = pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")

REPO = Path(__file__).resolve().parents[3]
POOL_DIR = REPO / "corpus" / "session_configs"


@pytest.fixture(scope="module")
def configs():
    generator = configgen.default_generator()
    rng = random.Random(2024)
    return [generator.from_bytes(rng.randbytes(2048)) for _ in range(120)]


def test_generated_configs_validate_and_build(configs):
    for config in configs:
        assert all_violations(config) == [], configgen.to_yaml(config)
        assert pgv_accepts(config), configgen.to_yaml(config)
        build(config)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(configgen.bootstraps())
def test_the_strategy_is_valid_under_hypothesis_own_search_too(config):
    # Hypothesis's own engine draws differently from random bytes (edge values, repeats).
    assert all_violations(config) == []
    build(config)


def test_generated_configs_use_the_whole_schema(configs):
    # Every message type reachable from Bootstrap shows up somewhere in 120 configs.
    seen = set()
    for config in configs:
        _collect_types(config, seen)
    reachable = {d.full_name for d in R.walk_schema() if not d.GetOptions().map_entry}
    assert reachable - seen == set()
    assert {
        "proxyfuzz.config.HttpConnectionManager",
        "proxyfuzz.config.TcpProxy",
        "proxyfuzz.config.WeightedClusters",
        "proxyfuzz.config.RegexMatcher",
    } <= seen


def _collect_types(message, seen):
    seen.add(message.DESCRIPTOR.full_name)
    for field, value in message.ListFields():
        if field.message_type is None or field.message_type.GetOptions().map_entry:
            continue
        for child in value if field.is_repeated else [value]:
            _collect_types(child, seen)


def test_generated_configs_set_every_request_validation_option(configs):
    """Issue 13: the connection manager's path options and headers_with_underscores_action come from
    the schema with no generator change; every value shows up in 120 configs."""
    seen = set()

    def walk(message):
        if message.DESCRIPTOR.name == "HttpConnectionManager":
            seen.update(
                {
                    ("normalize_path", message.normalize_path),
                    ("merge_slashes", message.merge_slashes),
                    ("escaped", message.path_with_escaped_slashes_action),
                }
            )
            options = message.common_http_protocol_options
            if options.HasField("headers_with_underscores_action"):
                seen.add(("underscores", options.headers_with_underscores_action))
        for field, value in message.ListFields():
            if field.message_type is not None and not field.message_type.GetOptions().map_entry:
                for child in value if field.is_repeated else [value]:
                    walk(child)

    for config in configs:
        walk(config)
    assert {
        ("normalize_path", True),
        ("normalize_path", False),
        ("merge_slashes", True),
        ("merge_slashes", False),
        *(("escaped", n) for n in range(5)),
        *(("underscores", n) for n in range(3)),
    } <= seen


def test_cross_field_facts_are_made_to_hold(configs):
    for config in configs:
        clusters = [c.name for c in config.clusters]
        assert len(clusters) == len(set(clusters))
        ports = [listener.address.port for listener in config.listeners]
        if config.HasField("admin"):
            ports.append(config.admin.address.port)
        assert len(ports) == len(set(ports))
        assert {listener.address.host for listener in config.listeners} == {"127.0.0.1"}


def test_bounds_hold(configs):
    for config in configs:
        _check_bounds(config, 0)


def _check_bounds(message, depth):
    for field, value in message.ListFields():
        rules = R.rules_for(field)
        c = R.constraints(rules)
        if field.is_repeated:
            cap = max(c.get("min_items", c.get("min_pairs", 0)), DEFAULT_BOUNDS.items_cap(depth))
            assert len(value) <= cap, field.full_name
            if field.message_type is not None and not field.message_type.GetOptions().map_entry:
                for item in value:
                    _check_bounds(item, depth + 1)
        elif field.message_type is not None:
            _check_bounds(value, depth + 1)
        elif isinstance(value, int) and not isinstance(value, bool) and field.enum_type is None:
            low = c.get("gte", c.get("gt", 0))
            cap = DEFAULT_BOUNDS.int_cap(field.full_name)
            assert value <= max(cap, low), (field.full_name, value)
    assert depth <= DEFAULT_BOUNDS.max_depth


def test_bounds_are_one_mutable_place():
    small = replace(DEFAULT_BOUNDS, max_items=1, deep_max_items=1)
    generator = configgen.ConfigGenerator(configgen.default_generator().descriptor, small)
    for config in generator.pool(10, seed=1):
        assert len(config.listeners) == 1 and len(config.clusters) <= 1
        assert all(len(listener.filter_chains) == 1 for listener in config.listeners)


def test_same_bytes_same_config_and_a_fresh_message_each_time():
    first = configgen.config_from_bytes(b"some fuzzer input")
    first.listeners[0].name = "mutated-by-the-caller"
    again = configgen.config_from_bytes(b"some fuzzer input")
    assert again.listeners[0].name != "mutated-by-the-caller"
    assert again == configgen.config_from_bytes(b"some fuzzer input")
    assert configgen.config_from_bytes(b"another input") != again


def test_only_the_leading_bytes_count():
    data = random.Random(5).randbytes(DEFAULT_BOUNDS.max_input_bytes)
    assert configgen.config_from_bytes(data + b"tail") == configgen.config_from_bytes(data)


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff" * 7, bytes(range(256)) * 40])
def test_any_bytes_map_to_a_valid_config(data):
    config = configgen.config_from_bytes(data)
    assert all_violations(config) == []
    build(config)


def _pool_digest_code(yaml_path):
    return (
        "from fuzz import configgen; from proxy.config.load import load_file; import hashlib\n"
        "h = hashlib.sha256()\n"
        "for c in configgen.pool(6, seed=1): h.update(configgen.to_yaml(c).encode())\n"
        f"h.update(configgen.to_yaml(load_file({str(yaml_path)!r})).encode())\n"
        "print(h.hexdigest())"
    )


def test_pool_and_its_yaml_are_deterministic_across_processes(tmp_path):
    # Set iteration order changes with PYTHONHASHSEED, protobuf's map order between processes:
    # neither may change the pool or its YAML. The file holds a map with many keys.
    path = tmp_path / "many_keys.yaml"
    path.write_bytes(MANY_KEYS)
    digests = set()
    for hash_seed in ("1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run(
            [sys.executable, "-c", _pool_digest_code(path)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_yaml_round_trips(configs):
    for config in configs:
        assert load_bytes(configgen.to_yaml(config).encode()) == config


DIRECT_RESPONSE = b"""\
listeners:
  - name: l
    address: {host: 127.0.0.1, port: 10000}
    filter_chains:
      - filters:
          - http_connection_manager:
              route_config:
                virtual_hosts:
                  - {name: v, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}
"""


MANY_KEYS = DIRECT_RESPONSE.replace(
    b"          - http_connection_manager:\n",
    b"""\
          - http_connection_manager:
              http_filters:
                - header_mutation:
                    response_headers_to_add: {z: "1", a: "2", m: "3", b: "4", y: "5", c: "6", x: "7"}
""",
)


@pytest.mark.parametrize("text", ['/"\n', "a\nb", "x\x85y", "a\u2028b", " lead", "e\x00", "é\t", "yes", "1"])
def test_yaml_keeps_awkward_strings(text):
    config = load_bytes(DIRECT_RESPONSE)
    route = (
        config.listeners[0].filter_chains[0].filters[0].http_connection_manager.route_config.virtual_hosts[0].routes[0]
    )
    route.direct_response.body = text
    assert load_bytes(configgen.to_yaml(config).encode()) == config


def test_gen_configs_writes_yaml_that_the_proxy_validates(tmp_path):
    out = tmp_path / "configs"
    run = subprocess.run(
        [sys.executable, "-m", "fuzz", "gen-configs", "3", "--out", str(out), "--seed", "4"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    files = sorted(out.glob("*.yaml"))
    assert len(files) == 3
    assert files[0].read_text().startswith("# Generated by fuzz/configgen ")
    for path in files:
        check = subprocess.run(
            [sys.executable, "-m", "proxy", "--validate", str(path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["gen-configs", "many", "--out", "x"], "not a whole number"),
        (["gen-configs", "0", "--out", "x"], "between 1 and"),
        (["gen-configs", "2"], "--out"),
    ],
)
def test_gen_configs_refuses_bad_arguments_clearly(argv, message):
    run = subprocess.run([sys.executable, "-m", "fuzz", *argv], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr


def test_the_naive_baseline_ignores_the_rules():
    draw = configgen.BytesToValue(configgen.naive_bootstraps())
    rng = random.Random(1)
    drawn = [draw(rng.randbytes(2048) + bytes(8192)) for _ in range(30)]
    invalid = [m for m in drawn if m is not None and check_rules(m)]
    assert len(invalid) >= 25


def test_committed_pool_loads_and_builds():
    files = sorted(POOL_DIR.glob("*.yaml"))
    assert len(files) >= 16, "regenerate: README.md, Configuration (gen-configs --for-sessions)"
    for path in files:
        build(load_file(path))


def test_bench_prints_both_sides_and_the_result_line_last(capsys):
    from fuzz.bench import configgen_rate as bench

    assert bench.main(["--n", "20", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("configgen: ") and any(line.startswith("naive: ") for line in lines)
    name, metric, value = lines[-1].split()
    assert (name, metric) == ("RESULT", "configgen_valid_rate") and 0.9 <= float(value) <= 1.0
