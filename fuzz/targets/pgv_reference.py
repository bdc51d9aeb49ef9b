"""protoc-gen-validate's own Python validator as the reference for our rule interpreter
(proxy/config/validate.py check_rules): the config harness compares both verdicts on every parsed
configuration, so a rule read wrongly (a bound swapped or off by one, a pattern anchored wrongly)
shows up as a valid configuration refused, or an invalid one accepted.

protoc_gen_validate 1.3.3 reads `FieldDescriptor.label`, which protobuf 7's descriptors no longer
have (they have `is_repeated`): `install()` lends PGV a view of the descriptors with `label` added
back; nothing else about its validator is changed.

PGV's Python validator runs patterns with `re`, where `$` also matches before a trailing newline;
the rules are RE2 patterns (PGV's Go and C++ validators), where it does not. So `install()` also
gives PGV's generated code an `re` with RE2's meaning of the schema's patterns (`_Re2Patterns`):
"web\n" fails `^[a-zA-Z0-9_.-]+$` for both validators, and every string is compared.
"""

import re
import warnings
from pathlib import Path

from google.protobuf.descriptor import FieldDescriptor as FD

from proxy.config.validate import check_rules

from ..oracles import InvariantViolation
from . import pgv_code_cache


class _Field:
    def __init__(self, field):
        self._field = field

    def __getattr__(self, name):
        return getattr(self._field, name)

    @property
    def label(self):
        return FD.LABEL_REPEATED if self._field.is_repeated else FD.LABEL_OPTIONAL

    @property
    def message_type(self):
        message = self._field.message_type
        return _Message(message) if message is not None else None


class _Oneof:
    def __init__(self, oneof):
        self._oneof = oneof

    def __getattr__(self, name):
        return getattr(self._oneof, name)

    @property
    def fields(self):
        return [_Field(f) for f in self._oneof.fields]


class _Message:
    def __init__(self, descriptor):
        self._descriptor = descriptor

    def __getattr__(self, name):
        return getattr(self._descriptor, name)

    @property
    def fields(self):
        return [_Field(f) for f in self._descriptor.fields]

    @property
    def oneofs(self):
        return [_Oneof(o) for o in self._descriptor.oneofs]


class _Re2Patterns:
    """`re` as PGV's generated code uses it (`re.search(pattern, value)`, nothing else), with RE2's
    meaning: `$` is the end of the text, never before a final newline. Every pattern of the schema is
    ^BODY$ with no `|` outside parentheses, which RE2 matches exactly when BODY matches the whole
    text: `re.fullmatch`, where no `$` is left to read. Another shape is refused loudly (extend this
    then), never compared with `re`'s meaning."""

    @staticmethod
    def search(pattern, value):
        text = pattern.decode("latin-1") if isinstance(pattern, bytes) else pattern
        body = _anchored_body(text)
        if body is None:
            raise ValueError(f"pattern {text!r} is not ^BODY$: the RE2 stand-in cannot read it")
        return re.fullmatch(body.encode("latin-1") if isinstance(pattern, bytes) else body, value)


def _anchored_body(pattern: str) -> str | None:
    """BODY of ^BODY$ as a group, or None when the pattern has another shape."""
    if not pattern.startswith("^") or not pattern.endswith("$"):
        return None
    body = pattern[1:-1]
    depth, i, in_class = 0, 0, False
    while i < len(body):
        char = body[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class, i = True, i + 1
            i += body[i : i + 1] == "^"
            i += body[i : i + 1] == "]"  # a ] first in a class is a member of it
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return None
        i += 1
    if in_class or depth or (len(body) - len(body.rstrip("\\"))) % 2:
        return None  # unbalanced, or the final `$` is escaped (a literal dollar)
    return f"(?:{body})"


def _init(self, message):
    self.DESCRIPTOR = _Message(message.DESCRIPTOR)


def install():
    """PGV's validator module, reading our descriptors through the view above (idempotent)."""
    import protoc_gen_validate.validator as pgv  # type: ignore[import-untyped]

    if pgv.ValidatingMessage.__init__ is not _init:
        pgv.ValidatingMessage.__init__ = _init
        pgv._validate_inner.cache_clear()
        pgv_code_cache.install(pgv, Path(__file__).read_bytes())  # rendered once per machine, not per process
        pgv.re = _Re2Patterns  # its generated code looks `re` up in the module's globals
        # PGV's generated code has "\*" in plain string literals (from our patterns): not ours to fix.
        warnings.filterwarnings("ignore", "invalid escape sequence", DeprecationWarning)
    return pgv


def pgv_accepts(message) -> bool:
    pgv = install()
    try:
        pgv.validate(message)
    except pgv.ValidationFailed:
        return False
    return True


def _strings(message):
    """Every string in `message`, map keys and values included."""
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                yield str(key)
                if hasattr(item, "ListFields"):
                    yield from _strings(item)
                else:
                    yield str(item)
        elif field.message_type is not None:
            for item in value if field.is_repeated else [value]:
                yield from _strings(item)
        elif field.type == FD.TYPE_STRING:
            yield from value if field.is_repeated else [value]


def check(message, rule_violations=None) -> None:
    """Our rule verdict on `message` is PGV's (config_rules_differ_from_pgv). `rule_violations`:
    check_rules' answer when the caller already has it (the config harness knows it is empty when
    load found no violation at all), else it is computed here."""
    ours = check_rules(message) if rule_violations is None else rule_violations
    accepted = pgv_accepts(message)
    if bool(ours) != accepted:
        if not accepted:
            _masked_difference(message, "", ours)
        return
    _differ(ours, "")


def _differ(ours, where: str) -> None:
    detail = f"{where}: " if where else ""
    if ours:
        detail += f"our rules refuse it ({'; '.join(str(v) for v in ours[:3])}), protoc-gen-validate accepts it"
    else:
        detail += "protoc-gen-validate refuses it, our rules accept it"
    raise InvariantViolation("config_rules_differ_from_pgv", detail, judged="proxy/config/validate.py:check_rules")


def _masked_difference(message, path: str, ours) -> None:
    """Both refuse `message`: one violation hides every other from a whole-message verdict (the
    config mutator's edits mostly land in configurations already refused). A field's rules judge its
    own message alone, so every submessage our rules accept must be accepted by PGV on its own, and
    each one they refuse is looked into the same way; a refused message's own fields are compared
    again with the fields our rules refused cleared. A rule misread anywhere is then a difference,
    however invalid the rest is."""
    prefix = f"{path}." if path else ""
    names = {_direct_field(v.path[len(prefix) :]) for v in ours if v.path.startswith(prefix)} - {None}
    if names:
        cleared = message.__class__()
        cleared.CopyFrom(message)
        for name in names:
            cleared.ClearField(name)
        again = check_rules(cleared, path)
        if bool(again) == pgv_accepts(cleared):
            _differ(again, f"{path or 'the document'} with the fields our rules refused cleared")
    for where, child in _children(message, prefix):
        refused = [v for v in ours if v.path == where or v.path.startswith((f"{where}.", f"{where}["))]
        if not refused and not pgv_accepts(child):
            # Nothing refused under it in the whole, or not looked at (a list over max_items is not
            # looked into): our verdict on it alone decides.
            refused = check_rules(child, where)
            if not refused:
                _differ([], where)
        if refused:
            _masked_difference(child, where, refused)


def _direct_field(relative: str):
    """The field of the message itself that a violation at `relative` names, or None (deeper, or the
    message as a whole)."""
    name = relative.split("[", 1)[0]
    return name if name and "." not in name and "." not in relative.split("]")[-1] else None


def _children(message, prefix: str):
    """(path, submessage) for each message of the schema's own package directly under `message`
    (the schema's maps hold strings)."""
    package = message.DESCRIPTOR.file.package
    for field, value in message.ListFields():
        if field.message_type is None or field.message_type.GetOptions().map_entry:
            continue
        if field.is_repeated:
            items = [(f"{prefix}{field.name}[{i}]", v) for i, v in enumerate(value)]
        else:
            items = [(f"{prefix}{field.name}", value)]
        for where, item in items:
            if item.DESCRIPTOR.file.package == package:
                yield where, item
