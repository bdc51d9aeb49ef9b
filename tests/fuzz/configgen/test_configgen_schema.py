"""fuzz/configgen/ on a test schema (tests/schemas/configgen_rules.proto), compiled at test time:
every rule kind is honoured, a field added to the .proto is generated with no other change, the
depth cap stops a recursive message, and a rejected draw still maps bytes to a valid message."""

import itertools
import re
import types
from dataclasses import replace
from pathlib import Path

import pytest

from fuzz.configgen import DEFAULT_BOUNDS, ConfigGenerator
from proxy.config.compile import find_validate_proto
from proxy.config.validate import check_rules

pgv = pytest.importorskip("protoc_gen_validate.validator")
from tests.proxy.config.test_config_pgv_crosscheck import _pgv_descriptors, pgv_accepts  # noqa: E402,F401

pytestmark = pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "configgen_rules.proto"
_compiled = itertools.count()

NEW_FIELDS = """
  string added_name = 20 [(validate.rules).string = {min_len: 2, max_len: 5, pattern: "^z[0-9]+$"}];
  repeated uint32 added_ports = 21 [(validate.rules).repeated = {
    min_items: 2, max_items: 2, unique: true, items: {uint32: {gte: 8000, lte: 8003}}
  }];
"""


def compile_schema(tmp_path, extra_fields: str = ""):
    """Compile the test schema (plus extra fields in Root) under a fresh package; returns its
    generated module. The import of validate_pb2 is pointed at the proxy's compiled one, so the
    rules are read through the same extension the generator knows."""
    from grpc_tools import protoc
    import importlib.resources

    n = next(_compiled)
    name = f"cgtest{n}"
    text = SCHEMA.read_text().replace("package proxyfuzz.cgtest;", f"package proxyfuzz.{name};")
    text = text.replace("  // NEW FIELDS\n", extra_fields)
    src = tmp_path / f"src{n}"
    (src / "validate").mkdir(parents=True)
    (src / "validate" / "validate.proto").write_bytes(find_validate_proto().read_bytes())
    (src / f"{name}.proto").write_text(text)
    out = tmp_path / f"out{n}"
    out.mkdir()
    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    status = protoc.main(["protoc", f"-I{src}", f"-I{well_known}", f"--python_out={out}", f"{name}.proto"])
    assert status == 0, "protoc failed on the test schema"
    module_path = out / f"{name}_pb2.py"
    module_path.write_text(
        re.sub(
            r"^from validate import validate_pb2",
            "from proxy.config.gen import validate_pb2",
            module_path.read_text(),
            flags=re.M,
        )
    )
    spec = importlib.util.spec_from_file_location(f"{name}_pb2", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    return compile_schema(tmp_path_factory.mktemp("schema"))


@pytest.fixture(scope="module")
def generated(schema):
    return ConfigGenerator(schema.Root.DESCRIPTOR, facts=None).pool(150, seed=11)


def test_every_generated_message_satisfies_every_rule(generated):
    for message in generated:
        assert check_rules(message) == [], message
        assert pgv_accepts(message), message


def test_the_rules_are_not_met_by_accident(generated):
    # The values are spread over what the rules allow, not stuck on one value.
    items = [item for m in generated for item in m.items]
    assert {i.in_list for i in items} == {3, 5, 7}
    assert {i.not_in for i in items} == {-2, -1, 2}
    assert {i.color for i in items} == {1, 2, 3}
    assert {i.color_in for i in items} == {1, 3}
    assert {i.outside < 0 for i in items} == {True, False}
    assert any(i.HasField("opt") for i in items) and not all(i.HasField("opt") for i in items)
    assert min(i.big for i in items) == 1_000_000  # a rule above every cap still wins
    assert {m.WhichOneof("choice") for m in generated} == {"a", "b"}
    assert {m.WhichOneof("optional_choice") for m in generated} == {None, "c", "d"}
    leaves = [m.leaf for m in generated]
    assert {leaf.ab for leaf in leaves} <= {"aa", "ab", "ba", "bb"}
    assert len({leaf.name for leaf in leaves}) > 50
    assert any(len(leaf.max_bytes.encode()) > len(leaf.max_bytes) for leaf in leaves)  # multi-byte


def test_depth_cap_stops_a_recursive_message(schema):
    bounds = replace(DEFAULT_BOUNDS, max_depth=4)
    deepest = 0
    for message in ConfigGenerator(schema.Root.DESCRIPTOR, bounds, facts=None).pool(40, seed=3):
        deepest = max(deepest, _depth(message))
    # Root (0) -> tree (1) -> ... : nothing is nested at depth 4 or more except required fields.
    assert 2 <= deepest <= bounds.max_depth


def _depth(message) -> int:
    below = [0]
    for field, value in message.ListFields():
        if field.message_type is None or field.message_type.GetOptions().map_entry:
            continue
        for child in value if field.is_repeated else [value]:
            below.append(1 + _depth(child))
    return max(below)


def test_a_field_added_to_the_proto_is_generated_with_no_other_change(tmp_path):
    base = compile_schema(tmp_path)
    extended = compile_schema(tmp_path, NEW_FIELDS)
    assert "added_name" not in base.Root.DESCRIPTOR.fields_by_name
    messages = ConfigGenerator(extended.Root.DESCRIPTOR, facts=None).pool(60, seed=5)
    for message in messages:
        assert check_rules(message) == [] and pgv_accepts(message), message
        assert re.fullmatch(r"z[0-9]+", message.added_name) and 2 <= len(message.added_name) <= 5
        assert len(message.added_ports) == 2 and len(set(message.added_ports)) == 2
        assert all(8000 <= port <= 8003 for port in message.added_ports)
    assert len({m.added_name for m in messages}) > 10


def test_any_bytes_map_to_a_valid_message_even_when_draws_are_rejected(tmp_path):
    # A unique list with min_items 2 rejects the all-zero draw (every item drawn the same): the
    # mapping falls back to draws seeded by the input, and stays a function of it.
    extended = compile_schema(tmp_path, NEW_FIELDS)
    generator = ConfigGenerator(extended.Root.DESCRIPTOR, facts=None)
    for data in (b"", b"\x00" * 50, b"\xff" * 3, bytes(range(256))):
        message = generator.from_bytes(data)
        assert check_rules(message) == [], data
        assert generator.from_bytes(data) == message


def test_excluded_values_are_never_drawn(schema):
    # What a build refuses beyond the rules (header_mutation: codec-owned header names) is data.
    name = schema.Leaf.DESCRIPTOR.fields_by_name["ab"].full_name
    facts = types.SimpleNamespace(EXCLUDED_VALUES={name: lambda: ["aa", "bb"]})
    messages = ConfigGenerator(schema.Root.DESCRIPTOR, facts=facts).pool(40, seed=2)
    assert {m.leaf.ab for m in messages} == {"ab", "ba"}
