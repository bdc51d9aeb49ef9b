"""The cross-field checks that validation rules cannot express."""

from tests.proxy.config.test_config_support import hcm, http_config, problems, tcp_config

L0 = "listeners[0]"
F0 = f"{L0}.filter_chains[0].filters[0]"
HCM = f"{F0}.http_connection_manager"
RC = f"{HCM}.route_config"


def second_listener(config, name="other", host="127.0.0.1", port=10001):
    config["listeners"].append(
        {
            "name": name,
            "address": {"host": host, "port": port},
            "filter_chains": [{"filters": [{"tcp_proxy": {"cluster": "echo"}}]}],
        }
    )
    return config


def test_listener_names_are_unique():
    config = second_listener(tcp_config(), name="tcp_in")
    assert problems(config) == ["listeners[1].name: duplicate listener name 'tcp_in' (also listeners[0])"]


def test_cluster_names_are_unique():
    config = tcp_config()
    config["clusters"].append(dict(config["clusters"][0]))
    assert problems(config) == ["clusters[1].name: duplicate cluster name 'echo' (also clusters[0])"]


def test_listener_ports_are_distinct_per_host():
    assert problems(second_listener(tcp_config(), port=10000)) == [
        "listeners[1].address.port: port 10000 on 127.0.0.1 is already used by listeners[0].address"
    ]
    assert problems(second_listener(tcp_config(), host="127.0.0.2", port=10000)) == []
    assert problems(second_listener(tcp_config(), host="0.0.0.0", port=10000)) == [
        "listeners[1].address.port: port 10000 on 0.0.0.0 is already used by listeners[0].address"
    ]
    assert problems(second_listener(tcp_config(), host="::1", port=10000)) == []


def test_port_zero_is_ephemeral_and_never_clashes():
    config = second_listener(tcp_config(), port=0)
    config["listeners"][0]["address"]["port"] = 0
    assert problems(config) == []


def test_admin_port_clashes_with_a_listener():
    config = http_config()
    config["admin"]["address"]["port"] = 10080
    assert problems(config) == ["admin.address.port: port 10080 on 127.0.0.1 is already used by listeners[0].address"]


def test_tcp_proxy_cluster_must_resolve():
    config = tcp_config()
    config["clusters"][0]["name"] = "elsewhere"
    assert problems(config) == [f"{F0}.tcp_proxy.cluster: unknown cluster 'echo'"]


def test_weighted_clusters_resolve_are_distinct_and_weigh_something():
    config = tcp_config()
    config["listeners"][0]["filter_chains"][0]["filters"][0]["tcp_proxy"] = {
        "weighted_clusters": {
            "clusters": [{"name": "echo", "weight": 0}, {"name": "ghost", "weight": 0}, {"name": "echo", "weight": 0}]
        }
    }
    wc = f"{F0}.tcp_proxy.weighted_clusters"
    assert problems(config) == [
        f"{wc}.clusters[1].name: unknown cluster 'ghost'",
        f"{wc}.clusters[2].name: cluster 'echo' listed twice",
        f"{wc}.clusters: the weights must not all be 0",
    ]


def test_route_clusters_must_resolve():
    config = http_config()
    routes = hcm(config)["route_config"]["virtual_hosts"][0]["routes"]
    routes[0]["route"] = {"cluster": "nope"}
    routes.append(
        {
            "match": {"prefix": "/b"},
            "route": {"weighted_clusters": {"clusters": [{"name": "web", "weight": 1}, {"name": "gone", "weight": 1}]}},
        }
    )
    vh = f"{RC}.virtual_hosts[0]"
    assert problems(config) == [
        f"{vh}.routes[0].route.cluster: unknown cluster 'nope'",
        f"{vh}.routes[1].route.weighted_clusters.clusters[1].name: unknown cluster 'gone'",
    ]


def test_virtual_host_names_and_domains_are_unique_per_route_table():
    config = http_config()
    vhosts = hcm(config)["route_config"]["virtual_hosts"]
    vhosts.append({"name": "all", "domains": ["example.com", "*"], "routes": []})
    assert problems(config) == [
        f"{RC}.virtual_hosts[1].name: duplicate virtual host name 'all' (also {RC}.virtual_hosts[0])",
        f"{RC}.virtual_hosts[1].domains[1]: domain '*' is already served by {RC}.virtual_hosts[0]",
    ]


def test_a_domain_listed_twice_in_one_virtual_host_is_refused_in_any_case():
    """Envoy: "Only unique values for domains are permitted"; domains match case-insensitively, so
    `A.example` and `a.example` are one. --validate said OK and the build then failed."""
    config = http_config()
    hcm(config)["route_config"]["virtual_hosts"][0]["domains"] = ["A.example", "a.example"]
    assert problems(config) == [
        f"{RC}.virtual_hosts[0].domains[1]: domain 'a.example' is already served by {RC}.virtual_hosts[0]"
    ]


def route_regex_problems(regex):
    config = http_config()
    hcm(config)["route_config"]["virtual_hosts"][0]["routes"][0]["match"] = {"safe_regex": {"regex": regex}}
    return problems(config)


REGEX_FIELD = f"{RC}.virtual_hosts[0].routes[0].match.safe_regex.regex"


def test_regex_must_compile():
    assert route_regex_problems("^/(a") == [f"{REGEX_FIELD}: not a valid regular expression: missing ): ^/(a (RE2)"]


def test_regex_is_refused_as_re2_refuses_it():
    """Envoy's safe_regex is RE2: what Python's `re` would take but RE2 cannot match in linear time
    (backreferences, lookaround) or does not know (`\\Z`, possessive repeats) is a config error naming
    the field and RE2's reason; RE2's own syntax (`\\Q...\\E`, POSIX classes) is accepted."""
    assert route_regex_problems(r"/(a)\1") == [
        f"{REGEX_FIELD}: not a valid regular expression: invalid escape sequence: \\1 (RE2)"
    ]
    assert route_regex_problems("/(?=a)") == [
        f"{REGEX_FIELD}: not a valid regular expression: invalid perl operator: (?= (RE2)"
    ]
    assert route_regex_problems(r"/a\Z") == [
        f"{REGEX_FIELD}: not a valid regular expression: invalid escape sequence: \\Z (RE2)"
    ]
    assert route_regex_problems("/a*+") == [
        f"{REGEX_FIELD}: not a valid regular expression: bad repetition operator: *+ (RE2)"
    ]
    assert route_regex_problems(r"/\Q*\E[[:digit:]]") == []


def test_regex_program_size_is_bounded_as_envoys_default():
    """re2.max_program_size.error_level, 100 unless set in Envoy's runtime."""
    assert route_regex_problems("/[a-z]{1,30}") == []
    assert route_regex_problems("/a{200}") == [
        f"{REGEX_FIELD}: RE2 program size 205 is over 100, Envoy's default re2.max_program_size.error_level"
    ]


def test_cidr_must_parse():
    config = tcp_config()
    config["listeners"][0]["filter_chains"][0]["filter_chain_match"] = {
        "source_prefix_ranges": ["10.0.0.0/8", "10.0.0.0/33", "::1/129", "10.1.2.3/8"]
    }
    path = f"{L0}.filter_chains[0].filter_chain_match.source_prefix_ranges"
    assert problems(config) == [
        f"{path}[1]: '10.0.0.0/33' is not a valid CIDR range",
        f"{path}[2]: '::1/129' is not a valid CIDR range",
    ]


def test_terminal_filter_must_be_last_and_present():
    config = tcp_config()
    filters = config["listeners"][0]["filter_chains"][0]["filters"]
    filters.append({"fault": {"delay_ms": 10}})
    assert problems(config) == [
        f"{F0}: tcp_proxy is a terminal filter and must be the last in its chain",
        f"{L0}.filter_chains[0].filters[1]: the last filter must be terminal "
        "(tcp_proxy or http_connection_manager), not fault",
    ]


def test_filter_chains_with_the_same_match_are_ambiguous():
    config = tcp_config()
    chains = config["listeners"][0]["filter_chains"]
    chains.append({"filters": [{"tcp_proxy": {"cluster": "echo"}}]})
    chains.append({"filter_chain_match": {"destination_port": 443}, "filters": [{"tcp_proxy": {"cluster": "echo"}}]})
    assert problems(config) == [
        f"{L0}.filter_chains[1].filter_chain_match: matches the same connections as {L0}.filter_chains[0]: "
        "a connection could not choose between them"
    ]


def test_overlapping_chain_matches_are_refused_as_build_refuses_them():
    # Found by review of the config harness's oracle: these validated, then failed to build.
    config = tcp_config()
    chains = config["listeners"][0]["filter_chains"]
    chains[0]["filter_chain_match"] = {"server_names": ["a.test", "b.test"]}
    chains.append({"filter_chain_match": {"server_names": ["B.test"]}, "filters": [{"tcp_proxy": {"cluster": "echo"}}]})
    chains.append(
        {
            "filter_chain_match": {"source_prefix_ranges": ["10.0.0.1/8"]},
            "filters": [{"tcp_proxy": {"cluster": "echo"}}],
        }
    )
    chains.append(
        {
            "filter_chain_match": {"source_prefix_ranges": ["10.0.0.0/8"]},
            "filters": [{"tcp_proxy": {"cluster": "echo"}}],
        }
    )
    assert problems(config) == [
        f"{L0}.filter_chains[1].filter_chain_match: matches the same connections as {L0}.filter_chains[0]: "
        "a connection could not choose between them",
        f"{L0}.filter_chains[3].filter_chain_match: matches the same connections as {L0}.filter_chains[2]: "
        "a connection could not choose between them",
    ]


def test_policy_names_are_unique_per_filter():
    config = tcp_config()
    config["listeners"][0]["filter_chains"][0]["filters"].insert(
        0, {"rbac": {"policies": [{"name": "p"}, {"name": "p"}]}}
    )
    assert problems(config) == [f"{F0}.rbac.policies[1].name: duplicate policy name 'p' (also {F0}.rbac.policies[0])"]


def test_http_fault_abort_needs_a_status():
    config = http_config()
    hcm(config)["http_filters"] = [{"fault": {"abort_percent": 5}}]
    assert problems(config) == [f"{HCM}.http_filters[0].fault.abort_status: is required when abort_percent is above 0"]
    hcm(config)["http_filters"] = [{"fault": {"abort_percent": 5, "abort_status": 503}}]
    assert problems(config) == []


def test_a_field_with_a_rule_violation_gets_no_semantic_noise():
    config = tcp_config()
    config["clusters"][0]["name"] = "bad name"
    config["listeners"][0]["filter_chains"][0]["filters"][0]["tcp_proxy"]["cluster"] = "bad name"
    assert problems(config) == [
        f"{F0}.tcp_proxy.cluster: must match pattern ^[a-zA-Z0-9_.-]+$",
        "clusters[0].name: must match pattern ^[a-zA-Z0-9_.-]+$",
    ]


def test_an_endpoint_host_of_digits_and_dots_is_an_ip_address():
    """Envoy's static endpoints take IP addresses only; ours take host names too, but no host name
    is all digits (RFC 1123 2.1), and the resolver reads '127.1' as 127.0.0.1 and '9' as 0.0.0.9."""
    for host in ("1.2.3.4.5", "127.1", "9", "256.0.0.1", "1.2.3.4."):
        config = tcp_config()
        config["clusters"][0]["endpoints"][0]["host"] = host
        assert problems(config) == [
            f"clusters[0].endpoints[0].host: {host!r} is not a valid IP address, "
            "and a host name cannot be all digits and dots"
        ], host
    for host in ("1.2.3.4", "::1", "localhost", "x.5.1", "a1", "9a.example"):
        config = tcp_config()
        config["clusters"][0]["endpoints"][0]["host"] = host
        assert problems(config) == [], host
