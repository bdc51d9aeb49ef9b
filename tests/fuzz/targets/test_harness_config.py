"""The config harness's dump oracle: a built configuration's /config_dump shows no private key
(Envoy redacts its sensitive fields). Found black-box: GET /config_dump on the admin of python -m
proxy returned the inline PEM private key of a TLS listener."""

import json

import pytest

from fuzz import test_pki
from fuzz.harness import REPO_ROOT
from fuzz.oracles import InvariantViolation
from fuzz.targets import config

SEED = REPO_ROOT / "corpus" / "config" / "tls_private_keys.yaml"


def _inline_key_config() -> bytes:
    pki = test_pki.ensure()
    text = SEED.read_bytes()[1:].decode()
    for name in ("server", "client"):
        pem = (pki / f"{name}.key").read_text()
        text = text.replace(
            f"private_key: {{filename: /tmp/proxyfuzz-pki/{name}.key}}",
            f"private_key: {{inline_string: {json.dumps(pem)}}}",
        )
    assert "inline_string" in text
    # The certificates beside the inlined keys come from the same PKI (PROXYFUZZ_PKI may move it).
    return b"\x01" + text.replace(f"{test_pki.DEFAULT_DIR}/", f"{pki}/").encode()


@pytest.mark.parametrize("data", [SEED.read_bytes(), _inline_key_config()], ids=["files", "inline"])
def test_tls_configurations_dump_without_their_keys(data):
    test_pki.ensure()
    config.run(data)


@pytest.mark.parametrize("data", [SEED.read_bytes(), _inline_key_config()], ids=["files", "inline"])
def test_a_dump_that_shows_private_keys_is_caught(monkeypatch, data):
    import proxy.admin

    monkeypatch.setattr(proxy.admin, "redact", lambda message, sensitive=False: None)  # the old dump
    with pytest.raises(InvariantViolation, match="config_dump_leaks_secret"):
        config.run(data)


TLS_VERSIONS = REPO_ROOT / "corpus" / "config" / "tls_versions.yaml"
TWO_ADDRESSES = REPO_ROOT / "corpus" / "config" / "listeners_on_two_addresses.yaml"


def test_tls_versions_within_their_bounds_pass():
    test_pki.ensure()
    config.run(TLS_VERSIONS.read_bytes())
    config.run(SEED.read_bytes())


def test_a_maximum_version_not_applied_is_caught(monkeypatch):
    """The planted bug: the built contexts keep the minimum version and forget the maximum."""
    import ssl

    from proxy.tls import context

    original = context._common

    def forgets_the_maximum(ctx, common):
        result = original(ctx, common)
        ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
        return result

    test_pki.ensure()
    monkeypatch.setattr(context, "_common", forgets_the_maximum)
    config.run(SEED.read_bytes())  # TLS_AUTO: nothing to forget
    with pytest.raises(InvariantViolation, match="config_tls_version_outside_bounds"):
        config.run(TLS_VERSIONS.read_bytes())


@pytest.mark.parametrize(
    "first, second",
    [("0.0.0.0", "127.0.0.1"), ("127.0.0.1", "0.0.0.0"), ('"::"', '"::1"'), ("127.0.0.1", "127.0.0.1")],
)
def test_listeners_that_cannot_bind_together_are_caught_when_validation_lets_them_through(monkeypatch, first, second):
    from proxy.config import semantic

    text = (
        TWO_ADDRESSES.read_bytes()
        .replace(b"0.0.0.0", first.encode())
        .replace(b"127.0.0.1, port: 10081", b"%s, port: 10080" % second.encode())
    )
    config.run(text)  # the real validation refuses it: nothing to judge
    config.run(TWO_ADDRESSES.read_bytes())
    monkeypatch.setattr(semantic, "_hosts_clash", lambda ip, host, other_ip, other_host: False)  # the planted gap
    with pytest.raises(InvariantViolation, match="config_listeners_cannot_bind"):
        config.run(text)
    other_loopback = TWO_ADDRESSES.read_bytes().replace(b"0.0.0.0", b"127.0.0.2").replace(b"10081", b"10080")
    config.run(other_loopback)  # 127.0.0.2 and 127.0.0.1 on one port bind together


HTTP = REPO_ROOT / "corpus" / "config" / "http.yaml"


def test_the_round_trips_parse_each_re_serialisation_once_and_validate_the_input_once(monkeypatch):
    """Validation is a function of the message: an equal message re-serialised validates as the
    input did, so only the input is validated (with its TLS material loaded) and each round trip
    is parsed and compared."""
    from proxy.config import load, semantic

    test_pki.ensure()
    calls = {"validated": 0, "parsed": []}
    validate, parse = semantic.all_violations, load.parse_bytes
    monkeypatch.setattr(
        load, "all_violations", lambda b: calls.__setitem__("validated", calls["validated"] + 1) or validate(b)
    )
    monkeypatch.setattr(config, "parse_bytes", lambda data, fmt: calls["parsed"].append(fmt) or parse(data, fmt))
    config.run(SEED.read_bytes())
    assert calls == {"validated": 1, "parsed": ["yaml", "proto", "json"]}  # the input (its rules: PGV too), the trips


def test_a_re_serialisation_that_loads_differently_or_not_at_all_is_still_caught(monkeypatch):
    original = config.json_format.MessageToDict

    def drops_the_clusters(message, **kwargs):
        tree = original(message, **kwargs)
        tree.pop("clusters", None)
        return tree

    config.run(HTTP.read_bytes())
    monkeypatch.setattr(config.json_format, "MessageToDict", drops_the_clusters)
    with pytest.raises(InvariantViolation, match="config_json_round_trip"):
        config.run(HTTP.read_bytes())
    monkeypatch.setattr(config.json_format, "MessageToDict", lambda message, **kwargs: {"listeners": "nope"})
    with pytest.raises(InvariantViolation, match="config_json_round_trip.*refused"):
        config.run(HTTP.read_bytes())


def test_every_config_seed_gets_protoc_gen_validates_verdict():
    for path in sorted((REPO_ROOT / "corpus" / "config").iterdir()):
        config.run(path.read_bytes())


def test_a_rule_read_wrongly_is_caught_by_protoc_gen_validate(monkeypatch):
    # The planted round-4 bug config-range-bounds-swapped: `gt` read as `gte` and the other way
    # round, so each field's least valid value is refused (no other oracle judged a valid config refused).
    from proxy.config import validate

    real = validate._range_check

    def swapped(lower, upper):
        if lower is not None:
            lower = ("gte" if lower[0] == "gt" else "gt", lower[1])
        return real(lower, upper)

    monkeypatch.setattr(validate, "_range_check", swapped)
    monkeypatch.setattr(validate, "_PLANS", {})
    found = []
    for path in sorted((REPO_ROOT / "corpus" / "config").iterdir()):
        try:
            config.run(path.read_bytes())
        except InvariantViolation as e:
            found.append(e.name)
    assert found and set(found) == {"config_rules_differ_from_pgv"}, found


def test_a_rule_that_accepts_too_much_is_caught_when_load_finds_nothing(monkeypatch):
    """The harness gives PGV's comparison an empty list of our rule violations when load found no
    violation at all (not computed twice): a rule read too leniently still shows as PGV refusing a
    configuration we accept. Planted: patterns with Python's `$`, which accepts "web\\n" as a name."""
    import re

    from proxy.config import parse_bytes, validate

    message = parse_bytes((REPO_ROOT / "examples" / "tcp_proxy.yaml").read_bytes(), "yaml")
    message.listeners[0].name = "web\n"
    data = bytes([config.FORMATS.index("proto")]) + message.SerializeToString()
    config.run(data)  # refused by both
    monkeypatch.setattr(validate, "compile_pattern", re.compile)
    monkeypatch.setattr(validate, "_PLANS", {})
    with pytest.raises(InvariantViolation, match="config_rules_differ_from_pgv.*protoc-gen-validate refuses it"):
        config.run(data)


EXPLICIT = REPO_ROOT / "corpus" / "config" / "explicit_zero_and_limits.yaml"


def _zero_timeout_read_as_unset(monkeypatch):
    import dataclasses

    import proxy.build

    real = proxy.build._build_listener

    def truthy(msg, path, clusters):
        built = real(msg, path, clusters)
        return dataclasses.replace(built, listener_filters_timeout_ms=built.listener_filters_timeout_ms or 15_000)

    monkeypatch.setattr(proxy.build, "_build_listener", truthy)


def _breaker_cap_ignored(monkeypatch):
    import dataclasses

    from proxy.upstream.cluster import BuiltCluster

    real = BuiltCluster.from_config.__func__

    def cluster_only(cls, msg, *contexts, **named_contexts):  # the TLS contexts, passed through
        built = real(cls, msg, *contexts, **named_contexts)
        return dataclasses.replace(
            built, max_connections=msg.max_connections if msg.HasField("max_connections") else 1024
        )

    monkeypatch.setattr(BuiltCluster, "from_config", classmethod(cluster_only))


@pytest.mark.parametrize("plant", [_zero_timeout_read_as_unset, _breaker_cap_ignored])
def test_a_built_value_that_differs_from_the_configuration_is_caught(monkeypatch, plant):
    # The bug class (PLANT_L round 6, config-listener-filters-timeout-zero-ignored): an optional field
    # read by its value instead of its presence, or a default applied where the user set a value.
    config.run(EXPLICIT.read_bytes())
    plant(monkeypatch)
    with pytest.raises(InvariantViolation, match="config_built_value"):
        config.run(EXPLICIT.read_bytes())


def _unknown_fields_of_singular_messages_only(message, path):
    """Plant: the walk that reports unknown fields forgets repeated messages (listeners, clusters, ...)."""
    from google.protobuf import unknown_fields

    from proxy.config.errors import Violation

    for field in unknown_fields.UnknownFieldSet(message):
        yield Violation(path, f"unknown field number {field.field_number}")
    for field, value in message.ListFields():
        if field.message_type is not None and not field.is_repeated:
            yield from _unknown_fields_of_singular_messages_only(value, field.name)


def test_an_unknown_field_inside_a_list_accepted_is_caught(monkeypatch):
    from proxy.config import load

    seed = (REPO_ROOT / "corpus" / "config" / "proto_unknown_field_in_a_listener.pb").read_bytes()
    config.run(seed)  # refused: nothing to judge
    monkeypatch.setattr(load, "_unknown_fields", _unknown_fields_of_singular_messages_only)
    with pytest.raises(InvariantViolation) as err:
        config.run(seed)
    assert err.value.name == "config_unknown_field_accepted"
