"""Plain data (parsed YAML or JSON) -> a schema message, reporting every problem with its path.

Stricter than google.protobuf.json_format on purpose: unknown fields (with a "did you mean"),
wrong types (a YAML `yes` where a string belongs), two members of one oneof, out-of-range integers
and non-string keys are each a Violation, and all of them are reported, not only the first.
Field names are the schema's snake_case names. A null value leaves the field unset.
"""

import base64
import binascii
import difflib
import json

from google.protobuf.descriptor import FieldDescriptor as FD

from proxy.config import rules as R
from proxy.config.errors import Violation, join_path

MAX_DEPTH = 32  # message nesting; the schema itself is about 10 deep
MAX_LIST_ITEMS = 10000  # for lists whose field has no max_items rule

_INT_RANGES = {
    FD.TYPE_INT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1),
    FD.TYPE_FIXED32: (0, 2**32 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1),
    FD.TYPE_FIXED64: (0, 2**64 - 1),
}


def to_message(data, message_class, path: str = ""):
    """Returns (message, violations). The message holds every value that converted cleanly."""
    message = message_class()
    out: list[Violation] = []
    _fill(message, data, path, out, 0)
    return message, out


def type_name(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def _fill(message, data, path, out, depth):
    if depth > MAX_DEPTH:
        out.append(Violation(path, f"nested deeper than {MAX_DEPTH} levels"))
        return
    if not isinstance(data, dict):
        out.append(Violation(path, f"expected a mapping, got {type_name(data)}"))
        return
    descriptor = message.DESCRIPTOR
    oneof_owner: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            out.append(Violation(path, f"field names must be strings, got {type_name(key)} {key!r}"))
            continue
        here = join_path(path, key)
        field = descriptor.fields_by_name.get(key)
        if field is None:
            out.append(Violation(here, _unknown_field(descriptor, key)))
            continue
        if value is None:
            continue
        oneof = field.containing_oneof
        if oneof is not None and oneof in R.real_oneofs(descriptor):
            if oneof.name in oneof_owner:
                out.append(
                    Violation(
                        here,
                        f"cannot be set together with "
                        f"{oneof_owner[oneof.name]} (only one of "
                        f"{', '.join(f.name for f in oneof.fields)})",
                    )
                )
                continue
            oneof_owner[oneof.name] = key
        if R.is_map(field):
            _fill_map(message, field, value, here, out, depth)
        elif field.is_repeated:
            _fill_repeated(message, field, value, here, out, depth)
        elif field.message_type is not None:
            child = getattr(message, key)
            child.SetInParent()
            _fill(child, value, here, out, depth + 1)
        else:
            ok, converted = _scalar(field, value, here, out)
            if ok:
                setattr(message, key, converted)


def _fill_repeated(message, field, value, here, out, depth):
    if not isinstance(value, list):
        out.append(Violation(here, f"expected a list, got {type_name(value)}"))
        return
    limit = _max_items(field)
    if len(value) > limit:
        out.append(Violation(here, f"must have at most {limit} items"))
        return
    target = getattr(message, field.name)
    for i, item in enumerate(value):
        at = f"{here}[{i}]"
        if field.message_type is not None:
            if item is None:
                out.append(Violation(at, "expected a mapping, got null"))
                continue
            _fill(target.add(), item, at, out, depth + 1)
        else:
            ok, converted = _scalar(field, item, at, out)
            if ok:
                target.append(converted)


def _fill_map(message, field, value, here, out, depth):
    if not isinstance(value, dict):
        out.append(Violation(here, f"expected a mapping, got {type_name(value)}"))
        return
    limit = _max_items(field)
    if len(value) > limit:
        out.append(Violation(here, f"must have at most {limit} entries"))
        return
    key_field = field.message_type.fields_by_name["key"]
    value_field = field.message_type.fields_by_name["value"]
    target = getattr(message, field.name)
    for key, item in value.items():
        at = f"{here}[{json.dumps(key) if isinstance(key, str) else key!r}]"
        ok, converted_key = _scalar(key_field, key, at, out, what="key")
        if not ok:
            continue
        if value_field.message_type is not None:
            _fill(target[converted_key], item, at, out, depth + 1)
        else:
            ok, converted = _scalar(value_field, item, at, out)
            if ok:
                target[converted_key] = converted


def _max_items(field) -> int:
    # Lists longer than the rule allows are refused before converting their items (bounded work).
    c = R.constraints(R.rules_for(field))
    return min(c.get("max_items", c.get("max_pairs", MAX_LIST_ITEMS)), MAX_LIST_ITEMS)


def _scalar(field, value, here, out, what="value"):
    """(ok, converted value); on failure appends a Violation and returns (False, None)."""
    kind = field.type
    problem = None
    if kind == FD.TYPE_STRING:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                problem = f"{what} is not valid Unicode text (lone surrogate)"
            else:
                return True, value
        else:
            hint = " (quote it)" if isinstance(value, (bool, int, float)) else ""
            problem = f"expected a string, got {type_name(value)}{hint}"
    elif kind == FD.TYPE_BOOL:
        if isinstance(value, bool):
            return True, value
        problem = f"expected true or false, got {type_name(value)}"
    elif kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        if isinstance(value, int) and not isinstance(value, bool):
            if low <= value <= high:
                return True, value
            problem = f"must be an integer in {low}..{high}"
        else:
            problem = f"expected an integer, got {type_name(value)}"
    elif kind in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        problem = f"expected a number, got {type_name(value)}"
    elif kind == FD.TYPE_ENUM:
        names = [v.name for v in field.enum_type.values]
        if isinstance(value, str) and value in field.enum_type.values_by_name:
            return True, field.enum_type.values_by_name[value].number
        if isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31:
            return True, value  # proto3 enums are open: (validate.rules).enum.defined_only decides
        problem = f"must be one of {', '.join(names)}"
    elif kind == FD.TYPE_BYTES:
        if isinstance(value, str):
            try:
                return True, base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                problem = "expected base64 text"
        else:
            problem = f"expected base64 text, got {type_name(value)}"
    else:
        problem = f"unsupported field type {kind}"
    out.append(Violation(here, problem if what == "value" else f"{what}: {problem}"))
    return False, None


def _unknown_field(descriptor, key: str) -> str:
    names = [f.name for f in descriptor.fields]
    close = difflib.get_close_matches(key, names, n=1)
    if close:
        return f"unknown field (did you mean {close[0]!r}?)"
    return f"unknown field (expected one of: {', '.join(names)})"
