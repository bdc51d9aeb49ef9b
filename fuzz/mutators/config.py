"""The config harness's inputs as Bootstrap messages (binary protobuf, format byte 3), mutated field
by field through the schema's descriptors.

Bytes alone never spell a configuration that passes validation, and YAML edits mostly break the
YAML: so an input that is not a readable Bootstrap starts from a generated valid one (stage 1,
fuzz/configgen), and a readable one gets 1-3 edits of one field each, anywhere in its tree:

- a number inside a string set to an edge (0, 32, 33, 40, 128, 129, 256, 65536, ...): prefix
  lengths, ports, octets and durations in text, where validation and the builder read the same
  text two ways;
- a string re-cased, emptied, or given a character at the edge of the usual classes, or a line end
  after its last character (a validator's `$` that also matches before a final newline);
- an IP address in a string set to an edge address: the unspecified one (0.0.0.0, ::, which binds
  and matches every address of its family), loopback, the other family's, a v4-mapped one;
- a scalar set to the value the same field holds elsewhere in the tree (another listener's port or
  host, another cluster's name), where uniqueness and clash checks between siblings look;
- an integer set to an edge (0, 1, value +-1, 2^31-1, 2^32-1, 65535, 65536, -1);
- a bool flipped, an enum set to another value; an enum set to a number it does not define (a gap
  in its numbering, one past its last value, -1);
- a submessage cleared, or replaced by one generated for its type (a oneof member set this way
  clears the others), a repeated field given a generated element, or one dropped or duplicated.

Generated values are deterministic: the k-th one of a type comes from seeded bytes and is kept once
drawn (a full configuration costs ~0.1 s to draw, a submessage a few ms), so the mutator stays a
function of (data, seed).
"""

import functools
import ipaddress
import random
import re

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError

from fuzz.mutators.base import Mutator, apply_ops

PROTO = 3  # the config harness reads data[0] % 4 == 3 as binary protobuf
BASES = 16  # generated configurations to start from
VARIANTS = 8  # generated values per submessage type
_DIGITS = re.compile(rb"[0-9]+")
EDGE_NUMBERS = (0, 1, 8, 16, 31, 32, 33, 40, 64, 65, 127, 128, 129, 255, 256, 999, 65535, 65536, 4294967296)
EDGE_INTS = (0, 1, -1, 2, 255, 256, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1, 2**63 - 1)
EDGE_CHARS = b"~_.-*/%: \t@[]"
_INTS = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
}


@functools.lru_cache(maxsize=None)
def _generator():
    from fuzz import configgen  # lazy: Hypothesis and the schema walk cost ~1 s, once

    return configgen.default_generator()


BASE_DRAW_BYTES = (256, 512, 1024, 2048)  # fewer draw bytes, simpler configurations (and faster to run)


@functools.lru_cache(maxsize=BASES)
def generated_config(k: int) -> bytes:
    draw = random.Random(f"config-{k}").randbytes(BASE_DRAW_BYTES[k % len(BASE_DRAW_BYTES)])
    return _generator().from_bytes(draw).SerializeToString()


@functools.lru_cache(maxsize=None)
def _value_drawer(full_name: str):
    from fuzz.configgen._draw import BytesToValue

    generator = _generator()
    return BytesToValue(generator.strategies.message(generator.descriptor.file.pool.FindMessageTypeByName(full_name)))


@functools.lru_cache(maxsize=4096)
def generated_message(full_name: str, k: int) -> bytes | None:
    value = _value_drawer(full_name)(random.Random(f"{full_name}-{k}").randbytes(512))
    return None if value is None else value.SerializeToString()


def _bootstrap_class():
    from proxy.config.schema import message_class

    generator = _generator()
    return message_class(generator.descriptor)


def parse(data: bytes):
    """The Bootstrap in a format-3 input, or None."""
    if not data or data[0] % 4 != PROTO:
        return None
    try:
        return _bootstrap_class().FromString(data[1:])
    except (DecodeError, RuntimeError, ValueError):
        return None


def _is_map(fd) -> bool:
    return fd.type == FieldDescriptor.TYPE_MESSAGE and fd.message_type.GetOptions().map_entry


def slots(message) -> list:
    """(message, field) for every field of every message in the tree, set or not (maps aside)."""
    out, todo = [], [message]
    while todo:
        m = todo.pop()
        for fd in m.DESCRIPTOR.fields:
            if _is_map(fd):
                continue
            out.append((m, fd))
            if fd.type != FieldDescriptor.TYPE_MESSAGE:
                continue
            if fd.is_repeated:
                todo.extend(getattr(m, fd.name))
            elif m.HasField(fd.name):
                todo.append(getattr(m, fd.name))
    return out


def _values(m, fd) -> list:
    """The field's values as a list (a scalar field's one value, set or not)."""
    return list(getattr(m, fd.name)) if fd.is_repeated else [getattr(m, fd.name)]


def _set_value(m, fd, at: int, value) -> bool:
    try:
        if fd.is_repeated:
            getattr(m, fd.name)[at] = value
        else:
            setattr(m, fd.name, value)
    except (TypeError, ValueError):  # out of the field's range
        return False
    return True


def _pick(message, rng: random.Random, wanted) -> tuple | None:
    """(message, field, index of a value) for a random field that `wanted(field, values)` accepts."""
    fields = [(m, fd, values) for m, fd in slots(message) if wanted(fd, values := _values(m, fd))]
    if not fields:
        return None
    m, fd, values = rng.choice(fields)
    return m, fd, rng.randrange(len(values)) if values else 0


def _scalar_op(types, change, usable=lambda value: True):
    """An operation on one value of a field of these types: value -> new value, or None; only on
    fields with a value `usable` accepts (an unset scalar reads as its default)."""

    def op(message, rng: random.Random) -> bool:
        picked = _pick(message, rng, lambda fd, values: fd.type in types and any(usable(v) for v in values))
        if picked is None:
            return False
        m, fd, _ = picked
        values = _values(m, fd)
        at = rng.choice([i for i, v in enumerate(values) if usable(v)])
        new = change(fd, values[at], rng)
        return new is not None and _set_value(m, fd, at, new)

    return op


def _number_in_string(fd, value: str, rng: random.Random) -> str | None:
    raw = value.encode("utf-8", "surrogateescape")
    runs = list(_DIGITS.finditer(raw))
    if not runs:
        return None
    # Half the time the last number: the parameter of the text more often than not (a prefix
    # length, a port, a version), where the others are parts of an address.
    run = runs[-1] if rng.random() < 0.5 else rng.choice(runs)
    return (raw[: run.start()] + b"%d" % rng.choice(EDGE_NUMBERS) + raw[run.end() :]).decode("utf-8", "surrogateescape")


def _recase(fd, value: str, rng: random.Random) -> str | None:
    flipped = value.upper() if value != value.upper() else value.lower()
    return flipped if flipped != value else None


def _edge_char(fd, value: str, rng: random.Random) -> str:
    at = rng.randrange(len(value) + 1)
    return value[:at] + chr(rng.choice(EDGE_CHARS)) + value[at:] if rng.random() < 0.85 else ""


# Line ends a text field should never end in: Python's `$` (unlike RE2's, which PGV patterns mean)
# matches before one trailing newline, and a name or header value with one splits a stats line or
# a header in two.
LINE_ENDS = ("\n", "\r\n", "\r", "\x00")


def _line_end(fd, value: str, rng: random.Random) -> str:
    return value + rng.choice(LINE_ENDS)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _edge_address(fd, value: str, rng: random.Random) -> str | None:
    v4 = ipaddress.ip_address(value).version == 4
    edges = ("0.0.0.0", "127.0.0.1", "::", f"::ffff:{value}") if v4 else ("::", "::1", "0.0.0.0", "::ffff:127.0.0.1")
    return rng.choice([e for e in edges if e != value])


def sibling_value(message, rng: random.Random) -> bool:
    """A scalar field set to the value the same field of another message in the tree holds."""
    holders: dict = {}
    for m, fd in slots(message):
        if fd.type != FieldDescriptor.TYPE_MESSAGE and not fd.is_repeated:
            holders.setdefault(fd.full_name, []).append((m, fd))
    groups = [g for g in holders.values() if len({getattr(m, fd.name) for m, fd in g}) > 1]
    if not groups:
        return False
    group = rng.choice(groups)
    (m, fd), (other, _) = rng.sample(group, 2)
    if getattr(m, fd.name) == getattr(other, fd.name):
        return False
    return _set_value(m, fd, 0, getattr(other, fd.name))


def _edge_int(fd, value: int, rng: random.Random) -> int | None:
    new = rng.choice(EDGE_INTS + (value + 1, value - 1, value * 2))
    return new if _fits(fd, new) else None


def _flag(fd, value, rng: random.Random):
    if fd.type == FieldDescriptor.TYPE_BOOL:
        return not value
    return rng.choice(enum_numbers(fd.enum_type))


def _undefined(fd, value, rng: random.Random):
    return rng.choice(undefined_numbers(fd.enum_type))


def undefined_numbers(enum) -> tuple:
    """Numbers an enum does not define, which a `defined_only` rule must refuse (proto3 enums are
    open: any int32 travels in a configuration): each gap between its values (up to 4; a range
    test in place of membership passes them), one past the largest, and -1."""
    defined = sorted({v.number for v in enum.values})
    gaps = [n for n in range(defined[0], defined[-1]) if n not in defined][:4]
    return (*gaps, defined[-1] + 1, -1)


def enum_numbers(enum) -> tuple:
    """What the flag edit sets an enum field to: each value it defines, or one it does not."""
    return (*sorted({v.number for v in enum.values}), *undefined_numbers(enum))


_WIDE = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
}
_UNSIGNED = {
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_FIXED64,
}


def _fits(fd, value: int) -> bool:
    bits = 64 if fd.type in _WIDE else 32
    if fd.type in _UNSIGNED:
        return 0 <= value < 2**bits
    return -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)


def _generated(fd, rng: random.Random) -> bytes:
    """A generated value of the field's message type (serialized), or an empty one."""
    if rng.random() < 0.15:
        return b""
    return generated_message(fd.message_type.full_name, rng.randrange(VARIANTS)) or b""


def message_generated(message, rng: random.Random) -> bool:
    """A submessage (a oneof member: the others clear) or a new list element, generated for its type."""
    picked = _pick(message, rng, lambda fd, values: fd.type == FieldDescriptor.TYPE_MESSAGE)
    if picked is None:
        return False
    m, fd, _ = picked
    if fd.is_repeated:
        getattr(m, fd.name).add().MergeFromString(_generated(fd, rng))
    else:
        sub = getattr(m, fd.name)
        sub.Clear()
        sub.MergeFromString(_generated(fd, rng))
        sub.SetInParent()
    return True


def message_clear(message, rng: random.Random) -> bool:
    picked = _pick(
        message, rng, lambda fd, values: fd.type == FieldDescriptor.TYPE_MESSAGE and not fd.is_repeated and any(values)
    )
    if picked is None:
        return False
    m, fd, _ = picked
    if not m.HasField(fd.name):
        return False
    m.ClearField(fd.name)
    return True


def _list_op(edit):
    def op(message, rng: random.Random) -> bool:
        picked = _pick(message, rng, lambda fd, values: fd.is_repeated and bool(values))
        if picked is None:
            return False
        m, fd, at = picked
        edit(getattr(m, fd.name), at, fd)
        return True

    return op


def _drop(items, at, fd) -> None:
    del items[at]


def _duplicate(items, at, fd) -> None:
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        items.add().CopyFrom(items[at])
    else:
        items.append(items[at])


_STRING = {FieldDescriptor.TYPE_STRING}
OPS = {
    "number_in_string": (4, _scalar_op(_STRING, _number_in_string, lambda v: _DIGITS.search(v.encode()) is not None)),
    "recase": (1, _scalar_op(_STRING, _recase, bool)),
    "edge_char": (2, _scalar_op(_STRING, _edge_char)),
    "line_end": (1, _scalar_op(_STRING, _line_end)),
    "edge_address": (2, _scalar_op(_STRING, _edge_address, _is_ip)),
    "sibling_value": (2, sibling_value),
    "int_edge": (2, _scalar_op(_INTS, _edge_int)),
    "flag": (1, _scalar_op({FieldDescriptor.TYPE_BOOL, FieldDescriptor.TYPE_ENUM}, _flag)),
    "enum_undefined": (1, _scalar_op({FieldDescriptor.TYPE_ENUM}, _undefined)),
    "message_generated": (3, message_generated),
    "message_clear": (1, message_clear),
    "item_drop": (1, _list_op(_drop)),
    "item_duplicate": (1, _list_op(_duplicate)),
}


def edit(message, rng: random.Random) -> list[str]:
    """1-3 of the edits above on any message of the schema (a filter's configuration too)."""
    return apply_ops(OPS, message, rng, "config")


class Config(Mutator):
    name = "config"
    new_share = 0.3  # of inputs that are no readable Bootstrap: start from a generated one

    def structured(self, data, max_size, rng):
        message = parse(data)
        if message is None:
            if rng.random() >= self.new_share:
                return None
            return ["config.generated"], bytes([PROTO]) + generated_config(rng.randrange(BASES))
        kinds = edit(message, rng)
        return (kinds, bytes([PROTO]) + message.SerializeToString()) if kinds else None

    def splice(self, data1, data2, max_size, rng):
        """A top-level list (listeners, clusters) of one input given an element of the other."""
        a, b = parse(data1), parse(data2)
        if a is None or b is None:
            return None
        lists = [fd for fd in a.DESCRIPTOR.fields if fd.is_repeated and getattr(b, fd.name)]
        if not lists:
            return None
        fd = rng.choice(lists)
        source = getattr(b, fd.name)
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(a, fd.name).add().CopyFrom(source[rng.randrange(len(source))])
        else:
            getattr(a, fd.name).append(source[rng.randrange(len(source))])
        return ["config.splice"], bytes([PROTO]) + a.SerializeToString()


def config(byte_mutate=None) -> Config:
    return Config(byte_mutate)
