"""Loading: the issues' examples, every format, and every kind of bad input -> ConfigError only."""

import json
from pathlib import Path

import pytest
from google.protobuf import json_format

from proxy.config import defaults, schema
from proxy.config.errors import ConfigError
from proxy.config.load import MAX_CONFIG_BYTES, load_bytes, load_file
from tests.proxy.config.test_config_support import ISSUE2_YAML, ISSUE3_YAML, tcp_config

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.yaml"))


def error_of(data, fmt=None) -> str:
    with pytest.raises(ConfigError) as info:
        load_bytes(data, fmt)
    assert info.value.violations, "a ConfigError always lists at least one violation"
    return str(info.value)


def test_issue2_example_validates_unchanged():
    bootstrap = load_bytes(ISSUE2_YAML)
    listener = bootstrap.listeners[0]
    assert (listener.name, listener.address.host, listener.address.port) == ("tcp_in", "127.0.0.1", 10000)
    assert listener.filter_chains[0].filters[0].tcp_proxy.cluster == "echo"
    assert bootstrap.clusters[0].endpoints[0].port == 9000
    assert defaults.get(listener, "per_connection_buffer_limit_bytes") == 1024 * 1024


def test_issue3_example_validates_unchanged():
    bootstrap = load_bytes(ISSUE3_YAML)
    manager = bootstrap.listeners[0].filter_chains[0].filters[0].http_connection_manager
    assert manager.codec == schema.HttpConnectionManager.AUTO
    route = manager.route_config.virtual_hosts[0].routes[0]
    assert (route.match.prefix, route.route.cluster) == ("/", "web")
    assert bootstrap.admin.address.port == 9901
    assert defaults.get(manager, "max_request_headers_kb") == 60


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_file_validates(path):
    assert load_file(path).listeners


def test_examples_directory_has_the_documented_files():
    names = {p.name for p in EXAMPLES}
    assert {"tcp_proxy.yaml", "rbac_deny.yaml", "ratelimit.yaml", "fault_delay.yaml", "http.yaml"} <= names


def test_json_and_binary_protobuf_load_the_same_config():
    bootstrap = load_bytes(ISSUE3_YAML)
    as_json = json.dumps(json_format.MessageToDict(bootstrap, preserving_proto_field_name=True)).encode()
    assert load_bytes(as_json) == bootstrap  # sniffed
    assert load_bytes(as_json, "json") == bootstrap
    assert load_bytes(bootstrap.SerializeToString()) == bootstrap  # sniffed as binary
    assert load_bytes(bootstrap.SerializeToString(), "proto") == bootstrap


def test_yaml_flow_style_starting_with_a_brace_is_still_yaml():
    assert load_bytes(json.dumps(tcp_config()).replace('"', "").encode()).clusters[0].name == "echo"


def test_format_from_file_extension(tmp_path):
    bootstrap = load_bytes(ISSUE2_YAML)
    (tmp_path / "c.pb").write_bytes(bootstrap.SerializeToString())
    assert load_file(tmp_path / "c.pb") == bootstrap
    (tmp_path / "c.json").write_bytes(ISSUE2_YAML)  # YAML in a .json file is not JSON
    assert "not valid JSON" in str(pytest.raises(ConfigError, load_file, tmp_path / "c.json").value)


def test_unreadable_file_is_a_config_error(tmp_path):
    assert "cannot read" in str(pytest.raises(ConfigError, load_file, tmp_path / "missing.yaml").value)
    assert "cannot read" in str(pytest.raises(ConfigError, load_file, tmp_path).value)


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", "empty configuration"),
        (b"  \n\t\n", "empty configuration"),
        (b"# only a comment\n", "empty configuration"),
        (b"---\n...\n", "empty configuration"),
        (b"null", "empty configuration"),
        (b"- a\n- b\n", "the top level must be a mapping, got a list"),
        (b"just text", "the top level must be a mapping, got a string"),
        (b"42", "the top level must be a mapping, got an integer"),
        (b"a: b: c", "not valid YAML: mapping values are not allowed"),
        (b"listeners: [", "not valid YAML"),
        (b'{"listeners": [}', "not valid JSON"),
        (b'{"clusters": [], "clusters": []}', "duplicate key 'clusters'"),
        (b"clusters: []\nclusters: []\n", "duplicate key 'clusters'"),
        (b"a: 1\n---\nb: 2\n", "expected a single YAML document"),
        (b"\x00\x01\x02\xff\xfe", "not a binary protobuf Bootstrap"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text, and as a binary protobuf Bootstrap: unknown field"),
        (b"\xef\xbb\xbf" + b"- 1", "the top level must be a mapping"),
        (b"listeners: !!binary aGVsbG8=", "listeners: expected a list, got a bytes"),
        (b"port: 2001-13-45", "not valid YAML: month must be in 1..12"),
        (b"x: " + b"9" * 5000, "not valid YAML"),
        (b'{"x": ' + b"9" * 5000 + b"}", "not valid"),
    ],
)
def test_bad_documents_are_config_errors(data, expected):
    assert expected in error_of(data)


def test_yaml_aliases_are_refused_so_billion_laughs_cannot_expand():
    lol = [b"a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9).encode()
        lol.append(b"a%d: &a%d [%s]" % (i, i, refs))
    assert "YAML aliases (*a0) are not supported (line 2" in error_of(b"\n".join(lol))
    assert "YAML aliases" in error_of(b"a: &x [*x]")  # a self-referencing list


@pytest.mark.parametrize("depth", [65, 5000, 200_000])
def test_deeply_nested_yaml_is_refused_early(depth):
    # Our event scan stops at 64; libyaml may stop first (it reads ahead up to its own limit).
    assert "nest" in error_of(b"a: " + b"[" * depth, "yaml")
    block = "".join("  " * i + f"k{i}:\n" for i in range(min(depth, 900)))
    assert "nested deeper than 64 levels (line 65" in error_of(block.encode())


@pytest.mark.parametrize("depth", [5000, 100_000])
def test_deeply_nested_json_is_refused(depth):
    assert "nested" in error_of(b'{"a": ' * depth + b"1" + b"}" * depth, "json")


def test_deeply_nested_binary_protobuf_is_refused():
    # Unknown group fields nest without a schema; upb stops at its recursion limit.
    data = b"\x0b" * 10_000 + b"\x0c" * 10_000  # start-group / end-group of field 1
    assert "binary protobuf" in error_of(data, "proto")


def test_unknown_fields_in_binary_protobuf_are_reported_with_their_path():
    bootstrap = load_bytes(ISSUE2_YAML)
    data = bootstrap.SerializeToString() + b"\xa0\x06\x01"  # field 100, varint 1
    assert "unknown field number 100" in error_of(data, "proto")


def test_huge_input_is_refused_before_parsing(tmp_path):
    data = b"# " + b"x" * MAX_CONFIG_BYTES
    assert "larger than 1048576 bytes" in error_of(data)
    (tmp_path / "big.yaml").write_bytes(data)
    assert "larger than" in str(pytest.raises(ConfigError, load_file, tmp_path / "big.yaml").value)


def test_many_nodes_are_refused():
    data = b"a: [" + b"1," * 150_000 + b"1]"
    assert "more than 100000 YAML nodes" in error_of(data, "yaml")


def test_a_list_longer_than_its_rule_is_refused_without_converting_items():
    config = tcp_config()
    config["clusters"][0]["endpoints"] = [{"host": 5}] * 5000  # items would each be an error
    with pytest.raises(ConfigError) as info:
        load_bytes(json.dumps(config).encode())
    assert [str(v) for v in info.value.violations] == ["clusters[0].endpoints: must have at most 64 items"]


def test_conversion_problems_are_all_reported_with_paths():
    config = tcp_config()
    listener = config["listeners"][0]
    listener["adress"] = listener.pop("address")
    listener["name"] = 7
    listener["filter_chains"][0]["filters"][0]["tcp_proxy"]["idle_timeout_ms"] = "soon"
    config["clusters"][0]["lb_policy"] = "FASTEST"
    config["clusters"][0]["endpoints"][0]["port"] = 2**40
    config["clusters"][0]["endpoints"][0]["host"] = True
    config[3] = "x"
    with pytest.raises(ConfigError) as info:
        load_bytes(json.dumps(config).encode(), "json")
    assert [str(v) for v in info.value.violations] == [
        "listeners[0].name: expected a string, got an integer (quote it)",
        "listeners[0].filter_chains[0].filters[0].tcp_proxy.idle_timeout_ms: expected an integer, got a string",
        "listeners[0].adress: unknown field (did you mean 'address'?)",
        "clusters[0].endpoints[0].host: expected a string, got a boolean (quote it)",
        "clusters[0].endpoints[0].port: must be an integer in 0..4294967295",
        "clusters[0].lb_policy: must be one of ROUND_ROBIN, RANDOM",
        "3: unknown field (expected one of: listeners, clusters, admin)",  # JSON keys are strings
    ]


def test_two_members_of_one_oneof_are_refused():
    config = tcp_config()
    config["listeners"][0]["filter_chains"][0]["filters"][0]["rbac"] = {}
    assert "listeners[0].filter_chains[0].filters[0].rbac: cannot be set together with tcp_proxy" in error_of(
        json.dumps(config).encode()
    )


def test_null_values_leave_fields_unset():
    bootstrap = load_bytes(ISSUE2_YAML + b"admin: null\n")
    assert not bootstrap.HasField("admin")


def test_lone_surrogate_in_a_string_is_a_config_error():
    assert "not valid Unicode text" in error_of(b'{"clusters": [{"name": "\\ud800"}]}')
    assert "invalid Unicode character escape" in error_of(b'clusters: [{name: "\\ud800"}]')


def test_rule_and_semantic_violations_come_together():
    config = tcp_config()
    config["clusters"][0]["endpoints"][0]["port"] = 0
    config["listeners"][0]["filter_chains"][0]["filters"][0]["tcp_proxy"]["cluster"] = "nowhere"
    with pytest.raises(ConfigError) as info:
        load_bytes(json.dumps(config).encode())
    assert [str(v) for v in info.value.violations] == [
        "clusters[0].endpoints[0].port: must be in 1..65535",
        "listeners[0].filter_chains[0].filters[0].tcp_proxy.cluster: unknown cluster 'nowhere'",
    ]


def test_format_argument_is_checked():
    assert "unknown format 'xml'" in error_of(ISSUE2_YAML, "xml")
    with pytest.raises(ConfigError, match="expected bytes"):
        load_bytes("listeners: []")
