"""Our interpreter of the protoc-gen-validate rules in the schema: every violation, with its field path.

    check_rules(message) -> [Violation("clusters[0].endpoints[0].port", "must be in 1..65535"), ...]

It walks the descriptors (not generated code), so a rule added to bootstrap.proto is enforced with no
other change. Each field reports its first failing rule; every field is checked. A message with no
rules costs one plan lookup: plans are built once per message type and cached.

Semantics follow protoc-gen-validate's specification: rules of oneof members, proto3 `optional`
scalars and message fields apply only when the field is set; the rules of plain proto3 scalars
always apply. Patterns are RE2 patterns: `$` means end of text (Python's `$` would also match
before a final newline, which would let "value\\n" through a "^[^\\n]*$" rule).
"""

import ipaddress
import json
import re
import uuid
from collections.abc import Callable

from proxy.config import rules as R
from proxy.config.errors import Violation, join_path

# One rule applied to a field's value (its bound parameters ride as defaults): None when it holds, else
# the message.
Check = Callable[..., str | None]

MAX_DEPTH = 64


def check_rules(message, path: str = "") -> list[Violation]:
    out: list[Violation] = []
    _walk(message, path, out, 0)
    return out


def _walk(message, path, out, depth):
    if depth > MAX_DEPTH:
        out.append(Violation(path, f"nested deeper than {MAX_DEPTH} messages"))
        return
    for check in _plan(message.DESCRIPTOR):
        check(message, path, out, depth)


_PLANS: dict = {}


def _plan(descriptor):
    plan = _PLANS.get(descriptor.full_name)
    if plan is None:
        plan = _PLANS[descriptor.full_name] = _build_plan(descriptor)
    return plan


def _build_plan(descriptor):
    if R.message_is_skipped(descriptor):
        return []
    plan = []
    for oneof in R.real_oneofs(descriptor):
        if R.oneof_is_required(oneof):
            plan.append(_required_oneof(oneof))
    for field in descriptor.fields:
        rules = R.rules_for(field)
        R.check_supported(field, rules)
        check = _field_check(field, rules)
        if check is not None:
            plan.append(check)
    return plan


def _required_oneof(oneof):
    name = oneof.name
    choices = ", ".join(f.name for f in oneof.fields)
    message = f"one of {choices} is required"

    def check(msg, path, out, depth):
        if msg.WhichOneof(name) is None:
            out.append(Violation(path, message))

    return check


def _field_check(field, rules):
    name = field.name
    kind = R.rule_kind(rules)
    c = R.constraints(rules)
    if R.is_map(field):
        return _map_check(field, c if kind == "map" else {})
    if field.is_repeated:
        return _repeated_check(field, c if kind == "repeated" else {})
    if field.message_type is not None:
        required = R.message_rules(rules).get("required", False)
        skip = R.message_rules(rules).get("skip", False)

        def check_message(msg, path, out, depth):
            if not msg.HasField(name):
                if required:
                    out.append(Violation(join_path(path, name), "is required"))
            elif not skip:
                _walk(getattr(msg, name), join_path(path, name), out, depth + 1)

        return check_message
    value_check = _value_check(field, rules)
    if value_check is None:
        return None
    presence = R.has_presence(field)

    def check_scalar(msg, path, out, depth):
        if presence and not msg.HasField(name):
            return
        problem = value_check(getattr(msg, name))
        if problem:
            out.append(Violation(join_path(path, name), problem))

    return check_scalar


def _repeated_check(field, c):
    name = field.name
    min_items, max_items = c.get("min_items"), c.get("max_items")
    unique, ignore_empty = c.get("unique", False), c.get("ignore_empty", False)
    item_check = _value_check(field, c["items"]) if "items" in c else None
    is_message = field.message_type is not None
    skip_items = is_message and "items" in c and R.message_rules(c["items"]).get("skip", False)

    def check(msg, path, out, depth):
        values = getattr(msg, name)
        here = join_path(path, name)
        if ignore_empty and not values:
            return
        if min_items is not None and len(values) < min_items:
            out.append(Violation(here, f"must have at least {_items(min_items)}"))
        if max_items is not None and len(values) > max_items:
            out.append(Violation(here, f"must have at most {_items(max_items)}"))
            return  # do not walk an oversized list: the size is the problem
        if unique:
            seen = set()
            for i, value in enumerate(values):
                key = value.SerializeToString(deterministic=True) if is_message else value
                if key in seen:
                    out.append(Violation(f"{here}[{i}]", f"duplicate item {_show(value)}"))
                seen.add(key)
        for i, value in enumerate(values):
            if item_check is not None:
                problem = item_check(value)
                if problem:
                    out.append(Violation(f"{here}[{i}]", problem))
            if is_message and not skip_items:
                _walk(value, f"{here}[{i}]", out, depth + 1)

    return check


def _map_check(field, c):
    name = field.name
    key_field, value_field = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
    min_pairs, max_pairs = c.get("min_pairs"), c.get("max_pairs")
    ignore_empty = c.get("ignore_empty", False)
    key_check = _value_check(key_field, c["keys"]) if "keys" in c else None
    value_check = _value_check(value_field, c["values"]) if "values" in c else None
    value_is_message = value_field.message_type is not None

    def check(msg, path, out, depth):
        entries = getattr(msg, name)
        here = join_path(path, name)
        if ignore_empty and not entries:
            return
        if min_pairs is not None and len(entries) < min_pairs:
            out.append(Violation(here, f"must have at least {_plural(min_pairs, 'entry', 'entries')}"))
        if max_pairs is not None and len(entries) > max_pairs:
            out.append(Violation(here, f"must have at most {_plural(max_pairs, 'entry', 'entries')}"))
            return
        for key in sorted(entries):
            at = f"{here}[{_show(key)}]"
            if key_check is not None:
                problem = key_check(key)
                if problem:
                    out.append(Violation(at, f"key {problem}"))
            if value_check is not None:
                problem = value_check(entries[key])
                if problem:
                    out.append(Violation(at, problem))
            if value_is_message:
                _walk(entries[key], at, out, depth + 1)

    return check


def _value_check(field, rules):
    """A function value -> problem text or None, for one scalar (or one repeated item / map key)."""
    kind = R.rule_kind(rules)
    if kind is None or kind == "message":
        return None
    c = R.constraints(rules)
    if kind in R.NUMERIC_KINDS:
        return _number_check(c)
    if kind == "string":
        return _string_check(c)
    if kind == "enum":
        return _enum_check(field, c)
    if kind == "bool":
        return _const_only(c)
    raise R.UnsupportedRule(f"{field.full_name}: {kind} rules on a scalar are not supported")


def _number_check(c):
    checks: list[Check] = []
    if "const" in c:
        checks.append(lambda v, k=c["const"]: None if v == k else f"must equal {k}")
    checks += _in_checks(c, str)
    lower = next(((op, c[op]) for op in ("gt", "gte") if op in c), None)
    upper = next(((op, c[op]) for op in ("lt", "lte") if op in c), None)
    if lower or upper:
        checks.append(_range_check(lower, upper))
    return _first_failure(checks, c.get("ignore_empty", False))


def _range_check(lower, upper):
    def lower_ok(v):
        return v > lower[1] if lower[0] == "gt" else v >= lower[1]

    def upper_ok(v):
        return v < upper[1] if upper[0] == "lt" else v <= upper[1]

    phrases = {"gt": "greater than", "gte": "at least", "lt": "less than", "lte": "at most"}
    if lower and upper:
        if lower[0] == "gte" and upper[0] == "lte" and upper[1] >= lower[1]:
            message = f"must be in {lower[1]}..{upper[1]}"
        else:
            joiner = "and" if upper[1] > lower[1] else "or"
            message = f"must be {phrases[lower[0]]} {lower[1]} {joiner} {phrases[upper[0]]} {upper[1]}"
        if upper[1] > lower[1]:
            return lambda v: None if lower_ok(v) and upper_ok(v) else message
        # protoc-gen-validate's exclusive range: upper <= lower means "outside [upper, lower]".
        return lambda v: None if lower_ok(v) or upper_ok(v) else message
    if lower:
        message = f"must be {phrases[lower[0]]} {lower[1]}"
        return lambda v: None if lower_ok(v) else message
    message = f"must be {phrases[upper[0]]} {upper[1]}"
    return lambda v: None if upper_ok(v) else message


def _string_check(c):
    checks: list[Check] = []
    if "const" in c:
        checks.append(lambda v, k=c["const"]: None if v == k else f"must equal {_show(k)}")
    checks += _in_checks(c, _show)
    for op, measure, unit in (("len", len, "characters"), ("len_bytes", _byte_len, "bytes")):
        if op in c:
            checks.append(lambda v, n=c[op], m=measure, u=unit: None if m(v) == n else f"must be exactly {n} {u} long")
    for op, measure, unit in (("min_len", len, "character"), ("min_bytes", _byte_len, "byte")):
        if op in c:
            checks.append(
                lambda v, n=c[op], m=measure, u=unit: (
                    None
                    if m(v) >= n
                    else (
                        "must not be empty" if n == 1 and u == "character" else f"must be at least {_plural(n, u)} long"
                    )
                )
            )
    for op, measure, unit in (("max_len", len, "character"), ("max_bytes", _byte_len, "byte")):
        if op in c:
            checks.append(
                lambda v, n=c[op], m=measure, u=unit: None if m(v) <= n else f"must be at most {_plural(n, u)} long"
            )
    if "prefix" in c:
        checks.append(lambda v, k=c["prefix"]: None if v.startswith(k) else f"must start with {_show(k)}")
    if "suffix" in c:
        checks.append(lambda v, k=c["suffix"]: None if v.endswith(k) else f"must end with {_show(k)}")
    if "contains" in c:
        checks.append(lambda v, k=c["contains"]: None if k in v else f"must contain {_show(k)}")
    if "not_contains" in c:
        checks.append(lambda v, k=c["not_contains"]: None if k not in v else f"must not contain {_show(k)}")
    if "pattern" in c:
        regex = compile_pattern(c["pattern"])
        checks.append(lambda v, rx=regex, p=c["pattern"]: None if rx.search(v) else f"must match pattern {p}")
    for name, (predicate, what) in _WELL_KNOWN.items():
        if c.get(name):
            checks.append(lambda v, f=predicate, w=what: None if f(v) else f"must be {w}")
    return _first_failure(checks, c.get("ignore_empty", False))


def _enum_check(field, c):
    enum = field.enum_type
    checks: list[Check] = []
    if "const" in c:
        checks.append(lambda v, k=c["const"]: None if v == k else f"must equal {_enum_name(enum, k)}")
    if c.get("in"):
        allowed = set(c["in"])
        names = ", ".join(_enum_name(enum, n) for n in c["in"])
        checks.append(lambda v: None if v in allowed else f"must be one of {names}")
    if c.get("not_in"):
        banned = set(c["not_in"])
        names = ", ".join(_enum_name(enum, n) for n in c["not_in"])
        checks.append(lambda v: None if v not in banned else f"must not be one of {names}")
    if c.get("defined_only"):
        defined = {v.number for v in enum.values}
        names = ", ".join(v.name for v in enum.values)
        checks.append(lambda v: None if v in defined else f"must be one of {names} (got {v})")
    return _first_failure(checks, False)


def _const_only(c):
    if "const" not in c:
        return None
    return lambda v, k=c["const"]: None if v == k else f"must be {str(k).lower()}"


def _in_checks(c, show):
    checks: list[Check] = []
    if c.get("in"):
        allowed = frozenset(c["in"])
        shown = ", ".join(show(v) for v in c["in"])
        checks.append(lambda v: None if v in allowed else f"must be one of {shown}")
    if c.get("not_in"):
        banned = frozenset(c["not_in"])
        shown = ", ".join(show(v) for v in c["not_in"])
        what = f"must not be {shown}" if len(banned) == 1 else f"must not be one of {shown}"
        checks.append(lambda v: None if v not in banned else what)
    return checks


def _first_failure(checks, ignore_empty):
    if not checks:
        return None

    def check(value):
        if ignore_empty and not value:
            return None
        for one in checks:
            problem = one(value)
            if problem:
                return problem
        return None

    return check


_ANCHOR_END = re.compile(r"(\\.)|(\[(?:\\.|[^\]])*\])|(\$)")


def compile_pattern(pattern: str) -> re.Pattern:
    """A PGV (RE2) pattern as a Python regex: `$` outside classes becomes `\\Z` (end of text)."""
    translated = _ANCHOR_END.sub(lambda m: r"\Z" if m.group(3) else m.group(0), pattern)
    return re.compile(translated)


def _byte_len(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


def is_ip(value: str, version: int | None = None) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return version is None or address.version == version


def is_hostname(value: str) -> bool:
    """RFC 1123 host name, as protoc-gen-validate defines it (labels of letters, digits, hyphens)."""
    if not value or len(value) > 253:
        return False
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    for label in labels:
        if not 0 < len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return False
        if not all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in label):
            return False
    return True


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


_WELL_KNOWN = {
    "ip": (is_ip, "a valid IP address"),
    "ipv4": (lambda v: is_ip(v, 4), "a valid IPv4 address"),
    "ipv6": (lambda v: is_ip(v, 6), "a valid IPv6 address"),
    "hostname": (is_hostname, "a valid host name"),
    "address": (lambda v: is_ip(v) or is_hostname(v), "a valid IP address or host name"),
    "uuid": (_is_uuid, "a valid UUID"),
}


def _enum_name(enum, number):
    value = enum.values_by_number.get(number)
    return value.name if value is not None else str(number)


def _show(value) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


def _plural(n, word, plural=None):
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def _items(n):
    return _plural(n, "item")
