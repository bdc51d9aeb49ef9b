"""Our rule interpreter (proxy/config/validate.py) against protoc-gen-validate's own Python validator:
on the same messages, valid and invalid, both must give the same verdict.

protoc_gen_validate 1.3.3 reads `FieldDescriptor.label`, which protobuf 7's descriptors no longer
have (they have `is_repeated`): fuzz/targets/pgv_reference.py lends it a view of the descriptors with
`label` added back (the config harness makes the same comparison on every input).

PGV's Python validator runs patterns with Python's `re`, where `$` also matches before a trailing
newline; the rules are RE2 patterns (as in PGV's Go and C++ validators), where it does not. We follow
RE2, so "value\\n" fails `^[^\\n]*$`; install() gives PGV an `re` with RE2's meaning of the schema's
patterns, so both refuse it (tested separately).
"""

import random
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor as FD

pgv = pytest.importorskip("protoc_gen_validate.validator")

from proxy.config import rules, schema  # noqa: E402
from proxy.config.load import load_file, parse_bytes  # noqa: E402
from proxy.config.validate import check_rules  # noqa: E402
from fuzz.targets.pgv_reference import install, pgv_accepts  # noqa: E402
from tests.proxy.config.test_config_support import ISSUE2_YAML, ISSUE3_YAML  # noqa: E402

# PGV's generated code has "\*" in plain string literals (from our patterns); not our warning.
pytestmark = pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.yaml"))


@pytest.fixture(scope="module", autouse=True)
def _pgv_descriptors():
    original = pgv.ValidatingMessage.__init__
    install()  # PGV reads our descriptors through fuzz.targets.pgv_reference's view
    yield
    pgv.ValidatingMessage.__init__ = original
    pgv._validate_inner.cache_clear()


def ours_accepts(message) -> bool:
    return not check_rules(message)


def valid_seeds():
    return [parse_bytes(ISSUE2_YAML), parse_bytes(ISSUE3_YAML)] + [load_file(p) for p in EXAMPLES]


# --- mutations: set one field somewhere in the message to a value near a rule's edge -------------

STRINGS = [
    "",
    "a",
    "a b",
    "/",
    "/x",
    "x",
    "127.0.0.1",
    "::1",
    "10.0.0.0/8",
    "ten/8",
    "localhost",
    "-bad",
    "a..b",
    "GET",
    "BREW",
    "host",
    "x-a",
    "X-Up",
    ":method",
    "*",
    "*.a.com",
    "a.*",
    "x" * 64,
    "x" * 65,
    "x" * 254,
    "é" * 33000,
    "^/v[0-9]+$",
    "tab\there",
]


def _int_candidates(field, rnd):
    c = rules.constraints(rules.rules_for(field))
    edges = {0, 1, 2**32 - 1 if field.type == FD.TYPE_UINT32 else 2**31 - 1}
    for op in ("gt", "gte", "lt", "lte"):
        if op in c:
            edges |= {c[op] - 1, c[op], c[op] + 1}
    if field.type == FD.TYPE_UINT32:
        edges = {e for e in edges if 0 <= e < 2**32}
    return rnd.choice(sorted(edges))


def _value(field, rnd):
    if field.type == FD.TYPE_STRING:
        return rnd.choice(STRINGS)
    if field.type == FD.TYPE_BOOL:
        return rnd.random() < 0.5
    if field.type == FD.TYPE_ENUM:
        return rnd.choice([0, 1, 2, 7])
    return _int_candidates(field, rnd)


def _messages_in(message):
    """Every message inside `message` (itself included)."""
    found = [message]
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if rules.is_map(field):
            continue
        if field.is_repeated:
            for item in value:
                found += _messages_in(item)
        else:
            found += _messages_in(value)
    return found


def mutate(message, rnd):
    target = rnd.choice([m for m in _messages_in(message) if m.DESCRIPTOR.fields])  # not TlsInspector {}
    field = rnd.choice(target.DESCRIPTOR.fields)
    if rules.is_map(field):
        entries = getattr(target, field.name)
        entries[rnd.choice(STRINGS)] = rnd.choice(STRINGS)
    elif field.is_repeated and field.message_type is not None:
        items = getattr(target, field.name)
        if items and rnd.random() < 0.3:
            del items[rnd.randrange(len(items))]
        else:
            items.add()
    elif field.is_repeated:
        items = getattr(target, field.name)
        value = items[0] if items and rnd.random() < 0.3 else _value(field, rnd)  # duplicates too
        items.append(value)
    elif field.message_type is not None:
        if target.HasField(field.name) and rnd.random() < 0.5:
            target.ClearField(field.name)
        else:
            getattr(target, field.name).SetInParent()
    else:
        setattr(target, field.name, _value(field, rnd))


def test_valid_seeds_are_valid_for_both():
    for seed in valid_seeds():
        assert pgv_accepts(seed) and ours_accepts(seed)


def test_known_invalid_messages_are_invalid_for_both():
    port = parse_bytes(ISSUE2_YAML)
    port.clusters[0].endpoints[0].port = 0
    name = parse_bytes(ISSUE2_YAML)
    name.listeners[0].name = "bad name"
    oneof = parse_bytes(ISSUE2_YAML)
    oneof.listeners[0].filter_chains[0].filters.add()
    limit = parse_bytes(ISSUE2_YAML)
    limit.listeners[0].per_connection_buffer_limit_bytes = 10
    for message in (port, name, oneof, limit):
        assert not pgv_accepts(message) and not ours_accepts(message)


def test_random_edge_mutations_get_the_same_verdict():
    rnd = random.Random(20240601)
    seeds = valid_seeds()
    verdicts = {True: 0, False: 0}
    disagreements = []
    for i in range(1500):
        message = type(seeds[0])()
        message.CopyFrom(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 3)):
            mutate(message, rnd)
        ours, theirs = ours_accepts(message), pgv_accepts(message)
        verdicts[ours] += 1
        if ours != theirs:
            disagreements.append((i, ours, theirs, [str(v) for v in check_rules(message)]))
    assert disagreements == []
    # Both sides of the comparison are exercised, not just one.
    assert verdicts[True] > 150 and verdicts[False] > 150, verdicts


def test_a_trailing_newline_fails_a_dollar_for_both():
    message = schema.bootstrap_pb2.HeaderMutation()
    message.request_headers_to_add["x-a"] = "value\n"
    assert not pgv_accepts(message)  # RE2 through install(): `$` is the end of the text
    assert not ours_accepts(message)


def test_a_dollar_read_as_pythons_is_caught(monkeypatch):
    """Our rules with `re`'s `$` (matching before a final newline) accept "web\\n" as a listener name:
    the config harness's comparison with PGV says so (config_rules_differ_from_pgv)."""
    from fuzz.oracles import InvariantViolation
    from fuzz.targets import pgv_reference
    from proxy.config import validate

    message = parse_bytes(ISSUE2_YAML)
    message.listeners[0].name = "web\n"
    pgv_reference.check(message)  # both refuse it
    monkeypatch.setattr(validate, "compile_pattern", lambda pattern: __import__("re").compile(pattern))
    monkeypatch.setattr(validate, "_PLANS", {})  # plans hold compiled patterns: build them again
    with pytest.raises(InvariantViolation) as err:
        pgv_reference.check(message)
    assert err.value.name == "config_rules_differ_from_pgv"


def _plant_enum_range(monkeypatch):
    """`defined_only` read as a range (the smallest to the largest value): TlsProtocol's 1 and 2 pass."""
    from proxy.config import validate

    def ranged(field, c):
        numbers = [v.number for v in field.enum_type.values]
        span = range(min(numbers), max(numbers) + 1)
        return lambda v: None if v in span else f"must be one of the enum's values (got {v})"

    original = validate._enum_check
    monkeypatch.setattr(
        validate, "_enum_check", lambda field, c: ranged(field, c) if c.get("defined_only") else original(field, c)
    )
    monkeypatch.setattr(validate, "_PLANS", {})  # plans hold the checks: build them again


def _gap_version():
    message = parse_bytes(ISSUE2_YAML)
    message.clusters[0].tls_context.common_tls_context.tls_params.tls_maximum_protocol_version = 2
    return message


@pytest.mark.parametrize("elsewhere", ["same_message", "other_listener_name", "both"])
def test_a_misread_rule_is_caught_beside_another_violation(monkeypatch, elsewhere):
    """A rule misread on one field is caught even when another field of the configuration is refused
    by both (the whole-message verdicts agree then): with the refused fields cleared, and submessage
    by submessage."""
    from fuzz.oracles import InvariantViolation
    from fuzz.targets import pgv_reference

    message = _gap_version()
    if elsewhere in ("same_message", "both"):
        message.clusters[0].tls_context.common_tls_context.tls_params.cipher_suites.append("NOT-A-SUITE")
    if elsewhere in ("other_listener_name", "both"):
        message.listeners[0].name = "bad name"
    pgv_reference.check(message)  # the clean rules: both refuse, no difference anywhere
    _plant_enum_range(monkeypatch)
    with pytest.raises(InvariantViolation) as err:
        pgv_reference.check(message)
    assert err.value.name == "config_rules_differ_from_pgv"
    assert "protoc-gen-validate refuses it, our rules accept it" in str(err.value)


def test_refused_fields_everywhere_are_no_difference():
    """Clean rules, many refused fields at several depths: the descent finds no difference."""
    from fuzz.targets import pgv_reference

    message = _gap_version()
    message.clusters[0].tls_context.common_tls_context.tls_params.cipher_suites.append("NOT-A-SUITE")
    message.clusters[0].endpoints[0].port = 0
    message.listeners[0].name = "bad name"
    message.listeners[0].filter_chains[0].filters.add()
    message.listeners[0].per_connection_buffer_limit_bytes = 10
    # A list over its max_items: our rules do not look into its items, PGV does (both refuse an empty one).
    certificates = message.listeners[0].filter_chains[0].tls_context.common_tls_context.tls_certificates
    certificates.add(), certificates.add()
    assert check_rules(message) and not pgv_accepts(message)
    pgv_reference.check(message)
