"""Reading protoc-gen-validate rules from the schema's descriptors.

Shared by the validator (proxy/config/validate.py) and the stage-1 config generator
(fuzz/configgen/): both walk the same descriptors and must read the rules the same way.

    rules_for(field)          -> validate_pb2.FieldRules or None
    rule_kind(rules)          -> "uint32", "string", "enum", "repeated", "map", "message", ... or None
    constraints(rules)        -> {"gte": 1, "lte": 65535} (the set constraints of the kind, as a dict)
    oneof_is_required(oneof)  -> bool
    message_is_skipped(desc)  -> bool ((validate.disabled) or (validate.ignored))
    has_presence(field)       -> bool (rules of such a field apply only when it is set)
"""

import functools

from google.protobuf import descriptor_pb2, json_format
from google.protobuf.descriptor import FieldDescriptor

from proxy.config import schema

NUMERIC_KINDS = frozenset(
    {
        "float",
        "double",
        "int32",
        "int64",
        "uint32",
        "uint64",
        "sint32",
        "sint64",
        "fixed32",
        "fixed64",
        "sfixed32",
        "sfixed64",
    }
)

# What the validator implements, per rule kind. A schema using anything else is refused when the
# validator first meets the field (UnsupportedRule), never silently ignored.
SUPPORTED = {
    **{
        kind: frozenset({"const", "lt", "lte", "gt", "gte", "in", "not_in", "ignore_empty"})
        for kind in NUMERIC_KINDS - {"float", "double"}
    },
    "bool": frozenset({"const"}),
    "string": frozenset(
        {
            "const",
            "len",
            "min_len",
            "max_len",
            "len_bytes",
            "min_bytes",
            "max_bytes",
            "pattern",
            "prefix",
            "suffix",
            "contains",
            "not_contains",
            "in",
            "not_in",
            "ip",
            "ipv4",
            "ipv6",
            "hostname",
            "address",
            "uuid",
            "ignore_empty",
        }
    ),
    "enum": frozenset({"const", "defined_only", "in", "not_in"}),
    "message": frozenset({"required", "skip"}),
    "repeated": frozenset({"min_items", "max_items", "unique", "items", "ignore_empty"}),
    "map": frozenset({"min_pairs", "max_pairs", "keys", "values", "ignore_empty"}),
}


class UnsupportedRule(Exception):
    pass


def rules_for(field: FieldDescriptor):
    """The field's (validate.rules) option, or None when it has none."""
    options = field.GetOptions()
    if not options.HasExtension(schema.FIELD_RULES):
        return None
    return options.Extensions[schema.FIELD_RULES]


def rule_kind(rules) -> str | None:
    """The rule type set in a FieldRules ("uint32", "string", ...); "message" for a bare
    `(validate.rules).message`; None when nothing is set."""
    if rules is None:
        return None
    kind = rules.WhichOneof("type")
    if kind is None and rules.HasField("message"):
        return "message"
    return kind


def constraints(rules) -> dict:
    """The constraints set for the rule kind, e.g. {"min_len": 1, "pattern": "^...$"}.
    Nested FieldRules (repeated items, map keys/values) stay FieldRules messages."""
    kind = rule_kind(rules)
    if kind is None:
        return {}
    sub = rules.message if kind == "message" else getattr(rules, kind)
    out = {}
    for fd, value in sub.ListFields():
        if fd.message_type is not None and fd.message_type.name == "FieldRules":
            out[fd.name] = value
        elif fd.message_type is not None:  # Duration/Timestamp values: not used by the schema
            out[fd.name] = json_format.MessageToDict(value)
        elif fd.is_repeated:
            out[fd.name] = list(value)
        else:
            out[fd.name] = value
    if kind != "message" and rules.HasField("message"):
        out["message"] = {fd.name: v for fd, v in rules.message.ListFields()}
    return out


def message_rules(rules) -> dict:
    """The `(validate.rules).message` part ({"required": True} / {"skip": True}) of any FieldRules."""
    if rules is None or not rules.HasField("message"):
        return {}
    return {fd.name: v for fd, v in rules.message.ListFields()}


def check_supported(field: FieldDescriptor, rules) -> None:
    kind = rule_kind(rules)
    if kind is None:
        return
    if kind not in SUPPORTED:
        raise UnsupportedRule(f"{field.full_name}: rule kind {kind!r} is not supported")
    unknown = set(constraints(rules)) - SUPPORTED[kind] - {"message"}
    if unknown:
        raise UnsupportedRule(f"{field.full_name}: {kind} rules {sorted(unknown)} are not supported")
    nested = constraints(rules)
    if kind == "repeated" and "items" in nested:
        check_supported(field, nested["items"])
    if kind == "map":
        for part in ("keys", "values"):
            if part in nested:
                check_supported(field, nested[part])


def oneof_is_required(oneof) -> bool:
    options = oneof.GetOptions()
    return options.HasExtension(schema.ONEOF_REQUIRED) and options.Extensions[schema.ONEOF_REQUIRED]


def message_is_skipped(descriptor) -> bool:
    options = descriptor.GetOptions()
    for ext in (schema.MESSAGE_DISABLED, schema.MESSAGE_IGNORED):
        if options.HasExtension(ext) and options.Extensions[ext]:
            return True
    return False


def has_presence(field: FieldDescriptor) -> bool:
    """True for fields whose rules apply only when set: members of a oneof (including proto3
    `optional`, a synthetic oneof) and singular message fields."""
    if field.is_repeated:
        return False
    return field.containing_oneof is not None or field.message_type is not None


def is_map(field: FieldDescriptor) -> bool:
    return field.is_repeated and field.message_type is not None and field.message_type.GetOptions().map_entry


def real_oneofs(descriptor):
    """Oneofs written in the schema (not the synthetic ones of proto3 `optional`)."""
    optional = _proto3_optional_fields(descriptor.full_name, descriptor)
    return [o for o in descriptor.oneofs if not (len(o.fields) == 1 and o.fields[0].name in optional)]


def is_proto3_optional(field: FieldDescriptor) -> bool:
    """A proto3 `optional` scalar: unset means "use the default" (proxy/config/defaults.py)."""
    return field.name in _proto3_optional_fields(field.containing_type.full_name, field.containing_type)


@functools.lru_cache(maxsize=None)
def _proto3_optional_fields(_full_name: str, descriptor) -> frozenset:
    # The Python descriptor API does not say which oneofs are synthetic; the descriptor proto does.
    proto = descriptor_pb2.DescriptorProto()
    descriptor.CopyToProto(proto)
    return frozenset(f.name for f in proto.field if f.proto3_optional)


def walk_schema(descriptor=None):
    """Every message descriptor reachable from `descriptor` (default: Bootstrap), each once."""
    descriptor = descriptor or schema.BOOTSTRAP_DESCRIPTOR
    seen, order, stack = set(), [], [descriptor]
    while stack:
        current = stack.pop()
        if current.full_name in seen:
            continue
        seen.add(current.full_name)
        order.append(current)
        for field in current.fields:
            if field.message_type is not None:
                stack.append(field.message_type)
    return order
