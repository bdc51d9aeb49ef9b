"""The config harness's mutator (fuzz/mutators/config.py): inputs stay readable Bootstrap messages,
edits reach every kind of field, and the shape it exists for (a number inside a string at an edge,
here a CIDR prefix length past 32 that the field's pattern allows) reaches the harness's oracle: a
configuration that validates must build."""

import random

import pytest

from fuzz.mutators import config, create
from fuzz.targets import config as config_target
from proxy.build import BuildError


def _walk(mutator, rounds: int, seed: int = 0):
    data = b""
    for i in range(rounds):
        data = mutator.mutate(data, 16384, seed * 7919 + i)
        yield data


def test_edits_keep_inputs_readable_and_reach_every_operation():
    mutator = create("config")
    mutator.bytes_share, mutator.new_share = 0.0, 1.0  # bytes only when an edit changed nothing
    outputs = list(_walk(mutator, 400))
    readable = sum(config.parse(out) is not None for out in outputs)
    assert readable >= 0.95 * len(outputs)
    applied = {k.split(".", 1)[1] for k in mutator.counts if k.startswith("config.")}
    assert set(config.OPS) <= applied, applied


def _http_rbac_base():
    """A generated base configuration with an HTTP RBAC policy that sets source prefixes."""
    for k in range(config.BASES):
        message = config.parse(bytes([config.PROTO]) + config.generated_config(k))
        for m, fd in config.slots(message):
            if m.DESCRIPTOR.name == "HttpRbacPolicy" and fd.name == "source_prefixes" and len(m.source_prefixes):
                return message, m
    pytest.fail("no generated base configuration has an HTTP RBAC policy with source prefixes")


def test_a_number_inside_a_string_goes_to_an_edge():
    _, policy = _http_rbac_base()
    policy = type(policy)(name="p", source_prefixes=["10.0.0.0/8"])
    op = config.OPS["number_in_string"][1]
    seen = set()
    for seed in range(300):
        trial = type(policy).FromString(policy.SerializeToString())
        assert op(trial, random.Random(seed))
        seen.add(trial.source_prefixes[0])
    assert {"10.0.0.0/33", "10.0.0.0/40", "10.0.0.0/129"} <= seen  # the prefix length past the width
    assert any(p.endswith("/8") and p != "10.0.0.0/8" for p in seen)  # and the octets


def test_a_cidr_the_validator_passes_and_the_builder_refuses_is_caught(monkeypatch):
    """Planted: validation no longer checks CIDRs (the field's pattern allows /40), the builder does."""
    message, policy = _http_rbac_base()
    policy.source_prefixes[0] = "10.0.0.0/40"
    data = bytes([config.PROTO]) + message.SerializeToString()
    config_target.run(data)  # clean: refused by validation, naming the field
    from proxy.config import semantic

    monkeypatch.setattr(semantic, "_check_cidr", lambda text, path, out: None)
    with pytest.raises(BuildError):
        config_target.run(data)


@pytest.mark.parametrize("name", ["http_filter", "network_filter"])
def test_the_filter_harnesses_edit_their_configuration_field_by_field(name):
    """network_filter and http_filter carry a filter's configuration as a protobuf blob in their head:
    the same edits apply there, and the blob stays a readable message of the filter's type."""
    from fuzz.mutators import actions

    mutator = create(name)
    mutator.bytes_share = 0.0
    config_field = mutator.ops["head_config_field"][1]
    filters = actions._Filters(f"fuzz.targets.{name}", "HttpFilter" if name == "http_filter" else "NetworkFilter")
    edited = 0
    data = b""
    for i in range(300):
        data = mutator.mutate(data, 8192, i)
        head, rest = mutator.codec.split(data)
        state = [head, rest]
        if config_field(state, random.Random(i)):
            edited += 1
            field = filters.message().DESCRIPTOR.fields_by_name[filters.names()[state[0][0] % len(filters.names())]]
            blob_len = int.from_bytes(state[0][1:3], "big")
            actions._config_generator(filters.message(), field.name)._class.FromString(state[0][3 : 3 + blob_len])
    assert edited > 30


def _two_listeners():
    for k in range(config.BASES):
        message = config.parse(bytes([config.PROTO]) + config.generated_config(k))
        if len(message.listeners) >= 2:
            return message
    raise AssertionError("no generated base with two listeners")


def test_an_address_goes_to_its_edges_and_a_field_to_a_siblings_value():
    seen_hosts, same_port = set(), 0
    for seed in range(200):
        message = _two_listeners()
        config.OPS["edge_address"][1](message, random.Random(seed))
        seen_hosts |= {listener.address.host for listener in message.listeners}
        message = _two_listeners()
        config.sibling_value(message, random.Random(seed))
        same_port += message.listeners[0].address.port == message.listeners[1].address.port
    assert {"0.0.0.0", "::", "::ffff:127.0.0.1"} <= seen_hosts
    assert same_port > 0


def test_a_wildcard_listener_beside_one_on_its_port_is_caught(monkeypatch):
    """Planted: validation compares listener addresses for equality only; 0.0.0.0:P beside
    127.0.0.1:P validates, and no socket could bind both. Two field edits make that shape (a
    sibling's port, the unspecified address), and the binding oracle refuses it."""
    from fuzz.oracles import InvariantViolation
    from proxy.config import semantic

    def edited(message, op, wanted):
        for seed in range(500):
            trial = type(message).FromString(message.SerializeToString())
            op(trial, random.Random(seed))
            if wanted(trial.listeners):
                return trial
        raise AssertionError("the edit never made the shape")

    message = edited(_two_listeners(), config.sibling_value, lambda ls: ls[0].address.port == ls[1].address.port)
    message = edited(
        message, config.OPS["edge_address"][1], lambda ls: "0.0.0.0" in (ls[0].address.host, ls[1].address.host)
    )
    data = bytes([config.PROTO]) + message.SerializeToString()
    config_target.run(data)  # clean: refused by validation
    monkeypatch.setattr(semantic, "_hosts_clash", lambda ip, host, other_ip, other_host: ip == other_ip)
    with pytest.raises(InvariantViolation, match="config_listeners_cannot_bind"):
        config_target.run(data)


def _tls_listener():
    """A listener terminating TLS with the test PKI's certificate, tcp_proxy behind it."""
    from fuzz import test_pki
    from proxy.config import schema

    pki = test_pki.ensure()
    boot = schema.Bootstrap()
    listener = boot.listeners.add(name="tls")
    listener.address.host, listener.address.port = "127.0.0.1", 10443
    chain = listener.filter_chains.add()
    chain.filters.add().tcp_proxy.cluster = "c"
    cert = chain.tls_context.common_tls_context.tls_certificates.add()
    cert.certificate_chain.filename, cert.private_key.filename = str(pki / "server.pem"), str(pki / "server.key")
    boot.clusters.add(name="c").endpoints.add(host="127.0.0.1", port=9000)
    return boot, chain.tls_context.common_tls_context.tls_params


def test_an_enum_goes_to_the_numbers_it_does_not_define():
    """TlsProtocol defines 0, 3 and 4: the flag and enum_undefined edits write the gaps, one past the
    last, and -1."""
    boot, params = _tls_listener()
    params.tls_minimum_protocol_version, params.tls_maximum_protocol_version = 3, 4  # set: edits pick set fields
    enum = params.DESCRIPTOR.fields_by_name["tls_minimum_protocol_version"].enum_type
    assert config.enum_numbers(enum) == (0, 3, 4, 1, 2, 5, -1)
    assert config.undefined_numbers(enum) == (1, 2, 5, -1)
    seen = set()
    for seed in range(400):
        trial = type(boot).FromString(boot.SerializeToString())
        config.OPS["enum_undefined" if seed % 2 else "flag"][1](trial, random.Random(seed))
        tls = trial.listeners[0].filter_chains[0].tls_context.common_tls_context.tls_params
        seen |= {tls.tls_minimum_protocol_version, tls.tls_maximum_protocol_version}
    assert {1, 2, 5, -1} <= seen, seen


def test_an_undefined_enum_number_a_range_check_passes_is_caught(monkeypatch):
    """Planted: `defined_only` as a range (smallest to largest value) instead of membership; a
    tls_minimum_protocol_version of 1 then validates, and protoc-gen-validate's verdict differs."""
    from fuzz.oracles import InvariantViolation
    from proxy.config import validate

    boot, params = _tls_listener()
    params.tls_minimum_protocol_version = 1
    data = bytes([config.PROTO]) + boot.SerializeToString()
    config_target.run(data)  # clean: refused by validation, as by protoc-gen-validate

    def enum_check_as_range(field, c):
        numbers = [v.number for v in field.enum_type.values]
        span = range(min(numbers), max(numbers) + 1)
        return lambda v: None if v in span else "must be defined"

    monkeypatch.setattr(validate, "_enum_check", enum_check_as_range)
    monkeypatch.setattr(validate, "_PLANS", {})  # plans are built once per message type
    with pytest.raises(InvariantViolation, match="config_rules_differ_from_pgv"):
        config_target.run(data)
