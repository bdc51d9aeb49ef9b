"""protoc-gen-validate's own Python validator as the reference for our rule interpreter
(proxy/config/validate.py check_rules): the config harness compares both verdicts on every parsed
configuration, so a rule read wrongly (a bound swapped or off by one, a pattern anchored wrongly)
shows up as a valid configuration refused, or an invalid one accepted.

protoc_gen_validate 1.3.3 reads `FieldDescriptor.label`, which protobuf 7's descriptors no longer
have (they have `is_repeated`): `install()` lends PGV a view of the descriptors with `label` added
back; nothing else about its validator is changed.

One deliberate difference (docs/semantics.md is silent on it; tests/proxy/config covers it): PGV's
Python validator runs patterns with `re`, where `$` also matches before a trailing newline; the
rules are RE2 patterns (PGV's Go and C++ validators), where it does not, and we follow RE2. A
configuration with a newline in a string is therefore compared only when PGV refuses it.
"""

import warnings

from google.protobuf.descriptor import FieldDescriptor as FD

from proxy.config.validate import check_rules

from ..oracles import InvariantViolation


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


def _init(self, message):
    self.DESCRIPTOR = _Message(message.DESCRIPTOR)


def install():
    """PGV's validator module, reading our descriptors through the view above (idempotent)."""
    import protoc_gen_validate.validator as pgv  # type: ignore[import-untyped]

    if pgv.ValidatingMessage.__init__ is not _init:
        pgv.ValidatingMessage.__init__ = _init
        pgv._validate_inner.cache_clear()
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


def check(message) -> None:
    """Our rule verdict on `message` is PGV's (config_rules_differ_from_pgv)."""
    ours = check_rules(message)
    if bool(ours) != pgv_accepts(message):
        return
    if ours and any("\n" in text for text in _strings(message)):
        return  # the RE2 / `re` difference above
    if ours:
        detail = f"our rules refuse it ({'; '.join(str(v) for v in ours[:3])}), protoc-gen-validate accepts it"
    else:
        detail = "protoc-gen-validate refuses it, our rules accept it"
    raise InvariantViolation("config_rules_differ_from_pgv", detail, judged="proxy/config/validate.py:check_rules")
