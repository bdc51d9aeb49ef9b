"""Every rule kind the schema uses rejects with the right field path and message; the rule-reading
API the stage-1 generator shares; the schema's own guarantees (bounded values, defaults)."""

import json

import pytest
from google.protobuf.descriptor import FieldDescriptor as FD

from proxy.config import defaults, rules, schema
from proxy.config.validate import check_rules, compile_pattern
from tests.proxy.config.test_config_support import hcm, http_config, problems, tcp_config

L0 = "listeners[0]"
F0 = f"{L0}.filter_chains[0].filters[0]"
HCM = f"{F0}.http_connection_manager"
VH0 = f"{HCM}.route_config.virtual_hosts[0]"


def with_filter(first_filter: dict) -> dict:
    config = tcp_config()
    config["listeners"][0]["filter_chains"][0]["filters"].insert(0, first_filter)
    return config


def http_with_filter(http_filter: dict) -> dict:
    config = http_config()
    hcm(config)["http_filters"] = [http_filter]
    return config


def test_valid_configs_have_no_problems():
    assert problems(tcp_config()) == []
    assert problems(http_config()) == []


# --- numbers -------------------------------------------------------------------------------


def test_uint32_range_gte_lte():
    config = tcp_config()
    config["clusters"][0]["endpoints"][0]["port"] = 0
    assert problems(config) == ["clusters[0].endpoints[0].port: must be in 1..65535"]
    config["clusters"][0]["endpoints"][0]["port"] = 65536
    assert problems(config) == ["clusters[0].endpoints[0].port: must be in 1..65535"]


def test_uint32_upper_bound_only():
    config = tcp_config()
    config["listeners"][0]["filter_chains"][0]["filters"][0]["tcp_proxy"]["idle_timeout_ms"] = 86400001
    assert problems(config) == [f"{F0}.tcp_proxy.idle_timeout_ms: must be at most 86400000"]


def test_optional_field_rules_apply_only_when_set():
    config = tcp_config()
    assert problems(config) == []  # unset: the 1 MiB default, no rule applies
    config["listeners"][0]["per_connection_buffer_limit_bytes"] = 0
    assert problems(config) == [f"{L0}.per_connection_buffer_limit_bytes: must be in 1024..67108864"]
    config["listeners"][0]["per_connection_buffer_limit_bytes"] = 2**31
    assert problems(config) == [f"{L0}.per_connection_buffer_limit_bytes: must be in 1024..67108864"]


def test_zero_fill_interval_would_spin_and_is_refused():
    config = with_filter({"local_ratelimit": {"max_tokens": 1, "tokens_per_fill": 1, "fill_interval_ms": 0}})
    assert problems(config) == [f"{F0}.local_ratelimit.fill_interval_ms: must be in 50..86400000"]


def test_plain_scalar_with_a_lower_bound_is_mandatory():
    config = with_filter({"local_ratelimit": {"fill_interval_ms": 1000}})
    assert problems(config) == [
        f"{F0}.local_ratelimit.max_tokens: must be in 1..1000000",
        f"{F0}.local_ratelimit.tokens_per_fill: must be in 1..1000000",
    ]


# --- strings -------------------------------------------------------------------------------


def test_string_pattern():
    config = tcp_config()
    config["listeners"][0]["name"] = "tcp in"
    assert problems(config) == [f"{L0}.name: must match pattern ^[a-zA-Z0-9_.-]+$"]


def test_string_min_len():
    config = tcp_config()
    config["listeners"][0]["name"] = ""
    assert problems(config) == [f"{L0}.name: must not be empty"]


def test_string_max_len():
    config = tcp_config()
    config["listeners"][0]["name"] = "x" * 65
    assert problems(config) == [f"{L0}.name: must be at most 64 characters long"]


def test_string_max_bytes_counts_utf8_bytes():
    config = http_config()
    route = hcm(config)["route_config"]["virtual_hosts"][0]["routes"][0]
    del route["route"]
    route["direct_response"] = {"status": 200, "body": "é" * 32769}  # 32769 chars, 65538 bytes
    assert problems(config) == [f"{VH0}.routes[0].direct_response.body: must be at most 65536 bytes long"]


def test_string_prefix():
    config = http_config()
    hcm(config)["route_config"]["virtual_hosts"][0]["routes"][0]["match"] = {"prefix": "api"}
    assert problems(config) == [f'{VH0}.routes[0].match.prefix: must start with "/"']


def test_string_ip():
    config = tcp_config()
    config["listeners"][0]["address"]["host"] = "localhost"
    assert problems(config) == [f"{L0}.address.host: must be a valid IP address"]
    config["listeners"][0]["address"]["host"] = "::1"
    assert problems(config) == []


def test_string_address_takes_an_ip_or_a_host_name():
    config = tcp_config()
    for good in ("localhost", "upstream.example.com", "10.0.0.1", "::1"):
        config["clusters"][0]["endpoints"][0]["host"] = good
        assert problems(config) == [], good
    for bad in ("", "-bad.example", "a..b", "under_score", "x" * 64):
        config["clusters"][0]["endpoints"][0]["host"] = bad
        assert problems(config) == ["clusters[0].endpoints[0].host: must be a valid IP address or host name"], bad


def test_pattern_dollar_means_end_of_text_as_in_re2():
    # Python's `$` also matches before a final newline: "x\n" would pass ^[^\n]*$ (header injection).
    config = http_with_filter({"header_mutation": {"request_headers_to_add": {"x-a": "value\n"}}})
    assert problems(config) == [
        f'{HCM}.http_filters[0].header_mutation.request_headers_to_add["x-a"]: '
        r"must match pattern ^([\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?)?$"
    ]
    assert compile_pattern("^a$").search("a\n") is None
    assert compile_pattern(r"^a\$[$]$").search("a$$")  # escaped and class dollars stay literal


# --- enums, messages, oneofs ---------------------------------------------------------------


def test_enum_defined_only():
    config = with_filter({"rbac": {"action": 7}})  # proto3 enums are open; the rule is not
    assert problems(config) == [f"{F0}.rbac.action: must be one of ALLOW, DENY (got 7)"]


def test_message_required():
    config = tcp_config()
    del config["listeners"][0]["address"]
    assert problems(config) == [f"{L0}.address: is required"]


def test_required_oneof():
    config = tcp_config()
    config["listeners"][0]["filter_chains"][0]["filters"][0] = {}
    assert problems(config) == [
        f"{F0}: one of tcp_proxy, rbac, local_ratelimit, fault, http_connection_manager is required"
    ]
    config = http_config()
    hcm(config)["route_config"]["virtual_hosts"][0]["routes"][0]["match"] = {}
    assert problems(config) == [f"{VH0}.routes[0].match: one of prefix, path, safe_regex is required"]
    config = http_config()
    hcm(config)["access_log"] = {}
    assert problems(config) == [f"{HCM}.access_log: one of stdout, path is required"]


# --- repeated and maps ---------------------------------------------------------------------


def test_repeated_min_items():
    config = tcp_config()
    config["listeners"] = []
    assert problems(config) == ["listeners: must have at least 1 item"]


def test_repeated_max_items():
    config = tcp_config()
    config["clusters"][0]["endpoints"] = [{"host": "127.0.0.1", "port": 9000 + i} for i in range(65)]
    assert problems(config) == ["clusters[0].endpoints: must have at most 64 items"]


def test_repeated_unique():
    config = tcp_config()
    config["listeners"][0]["filter_chains"][0]["filter_chain_match"] = {"server_names": ["a.com", "b.com", "a.com"]}
    assert problems(config) == [f'{L0}.filter_chains[0].filter_chain_match.server_names[2]: duplicate item "a.com"']


def test_repeated_item_rules_numbers_and_patterns():
    config = with_filter(
        {
            "rbac": {
                "policies": [{"name": "p", "destination_ports": [80, 0], "source_prefixes": ["10.0.0.0/8", "ten/8"]}]
            }
        }
    )
    assert problems(config) == [
        f"{F0}.rbac.policies[0].source_prefixes[1]: must match pattern ^[0-9a-fA-F.:]+/[0-9]{{1,3}}$",
        f"{F0}.rbac.policies[0].destination_ports[1]: must be in 1..65535",
    ]


def test_repeated_item_rules_in_not_in_and_prefix():
    config = http_with_filter(
        {"rbac": {"policies": [{"name": "p", "methods": ["GET", "BREW"], "path_prefixes": ["/ok", "nope"]}]}}
    )
    assert problems(config) == [
        f"{HCM}.http_filters[0].rbac.policies[0].methods[1]: must be one of "
        '"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"',
        f'{HCM}.http_filters[0].rbac.policies[0].path_prefixes[1]: must start with "/"',
    ]
    config = http_with_filter({"header_mutation": {"request_headers_to_remove": ["x-a", "host"]}})
    assert problems(config) == [
        f'{HCM}.http_filters[0].header_mutation.request_headers_to_remove[1]: must not be "host"'
    ]


def test_map_keys_values_and_max_pairs():
    config = http_with_filter({"header_mutation": {"response_headers_to_add": {"X-Upper": "v"}}})
    assert problems(config) == [
        f'{HCM}.http_filters[0].header_mutation.response_headers_to_add["X-Upper"]: '
        "key must match pattern ^[a-z0-9!#$%&*+.^_|~-]+$"
    ]
    many = {f"x-{i}": "v" for i in range(33)}
    config = http_with_filter({"header_mutation": {"response_headers_to_add": many}})
    assert problems(config) == [
        f"{HCM}.http_filters[0].header_mutation.response_headers_to_add: must have at most 32 entries"
    ]


def test_all_violations_are_reported_one_per_field():
    config = tcp_config()
    config["listeners"][0]["name"] = ""
    config["listeners"][0]["address"]["port"] = 70000
    config["clusters"][0]["endpoints"][0]["port"] = 0
    config["clusters"][0]["name"] = "bad name"
    found = problems(config)
    assert f"{L0}.name: must not be empty" in found  # not also "must match pattern": first rule only
    assert f"{L0}.address.port: must be at most 65535" in found
    assert "clusters[0].endpoints[0].port: must be in 1..65535" in found
    assert "clusters[0].name: must match pattern ^[a-zA-Z0-9_.-]+$" in found


# --- the rule-reading API shared with the config generator -----------------------------------


def test_rules_for_returns_the_parsed_field_rules():
    port = schema.bootstrap_pb2.Endpoint.DESCRIPTOR.fields_by_name["port"]
    found = rules.rules_for(port)
    assert isinstance(found, schema.FieldRules)
    assert rules.rule_kind(found) == "uint32"
    assert rules.constraints(found) == {"gte": 1, "lte": 65535}
    assert rules.rules_for(schema.Rbac.DESCRIPTOR.fields_by_name["shadow"]) is None
    address = schema.Listener.DESCRIPTOR.fields_by_name["address"]
    assert rules.rule_kind(rules.rules_for(address)) == "message"
    assert rules.message_rules(rules.rules_for(address)) == {"required": True}
    domains = rules.constraints(rules.rules_for(schema.VirtualHost.DESCRIPTOR.fields_by_name["domains"]))
    assert rules.constraints(domains["items"])["max_len"] == 253


def test_oneof_and_presence_helpers():
    filter_oneof = schema.NetworkFilter.DESCRIPTOR.oneofs_by_name["filter"]
    assert rules.oneof_is_required(filter_oneof)
    listener = schema.Listener.DESCRIPTOR
    assert rules.real_oneofs(listener) == []  # proto3 `optional` makes a synthetic oneof only
    assert rules.is_proto3_optional(listener.fields_by_name["per_connection_buffer_limit_bytes"])
    assert not rules.is_proto3_optional(listener.fields_by_name["name"])
    assert rules.is_map(schema.bootstrap_pb2.HeaderMutation.DESCRIPTOR.fields_by_name["request_headers_to_add"])


def _all_fields():
    for message in rules.walk_schema():
        if message.GetOptions().map_entry:  # a map's key/value rules sit on the map field
            continue
        for field in message.fields:
            yield message, field


def test_every_rule_in_the_schema_is_supported_by_the_validator():
    used = set()
    for _, field in _all_fields():
        found = rules.rules_for(field)
        rules.check_supported(field, found)  # raises UnsupportedRule otherwise
        kind = rules.rule_kind(found)
        if kind:
            used.add(kind)
            for name, value in rules.constraints(found).items():
                used.add(f"{kind}.{name}")
                if isinstance(value, schema.FieldRules):
                    used.update(f"{kind}.{name}.{rules.rule_kind(value)}.{c}" for c in rules.constraints(value))
    # The rule kinds this test file exercises; a new kind in the schema needs a test here.
    assert used >= {
        "uint32.gte",
        "uint32.lte",
        "string.min_len",
        "string.max_len",
        "string.pattern",
        "string.prefix",
        "string.ip",
        "string.address",
        "string.max_bytes",
        "enum.defined_only",
        "message.required",
        "repeated.min_items",
        "repeated.max_items",
        "repeated.unique",
        "repeated.items.string.in",
        "repeated.items.string.not_in",
        "repeated.items.uint32.gte",
        "map.max_pairs",
        "map.keys.string.pattern",
        "map.values.string.pattern",
    }


def test_unsupported_rules_are_refused_not_ignored():
    field = schema.Listener.DESCRIPTOR.fields_by_name["name"]
    email = schema.FieldRules()
    email.string.email = True
    with pytest.raises(rules.UnsupportedRule, match="email"):
        rules.check_supported(field, email)


def test_every_number_string_and_list_is_bounded_by_a_rule():
    unbounded = []
    for message, field in _all_fields():
        c = rules.constraints(rules.rules_for(field))
        if field.is_repeated:
            ok = "max_items" in c or "max_pairs" in c
        elif field.type == FD.TYPE_STRING:
            ok = bool({"max_len", "max_bytes", "in", "ip"} & set(c))
        elif field.type in (FD.TYPE_UINT32, FD.TYPE_UINT64, FD.TYPE_INT32, FD.TYPE_INT64):
            ok = bool({"lte", "lt", "in"} & set(c))
        else:
            ok = True
        if not ok:
            unbounded.append(f"{message.name}.{field.name}")
    assert unbounded == []


def test_every_optional_scalar_has_a_default():
    optional = {f.full_name for _, f in _all_fields() if rules.is_proto3_optional(f)}
    assert optional == set(defaults.DEFAULTS)


def test_defaults_get_and_effective_max_connections():
    cluster = schema.Cluster()
    assert defaults.get(cluster, "connect_timeout_ms") == 5000
    assert defaults.cluster_max_connections(cluster) == 1024
    cluster.circuit_breakers.max_connections = 10
    assert defaults.cluster_max_connections(cluster) == 10
    cluster.max_connections = 3
    assert defaults.get(cluster, "max_connections") == 3
    assert defaults.cluster_max_connections(cluster) == 3


def test_check_rules_on_a_message_built_in_code():
    bootstrap = schema.Bootstrap()
    listener = bootstrap.listeners.add(name="a")
    listener.address.host = "127.0.0.1"
    assert [str(v) for v in check_rules(bootstrap)] == [f"{L0}.filter_chains: must have at least 1 item"]
    assert json.dumps([v.path for v in check_rules(listener, "x")]) == '["x.filter_chains"]'


def test_package_level_api():
    import proxy.config as config
    import proxy.config.validate  # noqa: F401  (the submodule must not shadow the API)
    from tests.proxy.config.test_config_support import ISSUE2_YAML

    assert config.violations(config.load_bytes(ISSUE2_YAML)) == []
    assert [str(v) for v in config.violations(schema.Bootstrap())] == ["listeners: must have at least 1 item"]
    assert config.rules_for is rules.rules_for
    with pytest.raises(config.ConfigError):
        config.load_bytes(b"")
