"""Strategies for one scalar value (a field, a repeated item, a map key or value) from its rules.

    value_strategy(field, rules, bounds, fmt=None) -> SearchStrategy
    naive_value_strategy(field, bounds)            -> SearchStrategy (ignores the rules: the baseline)

Values satisfy the rules by construction wherever the rules allow it (ranges, in/not_in, lengths in
characters and bytes, prefix/suffix/contains, address formats, `^X+$`-shaped patterns); the few
combinations that cannot be constructed (a general pattern plus a length bound, a pattern plus a
prefix, not_in) are drawn and then checked with the validator's own check of the field: a value
that fails is replaced by a valid example found once, so nothing invalid comes out of here and no
draw is rejected. Every strategy draws its simplest value from an all-zero
buffer, and that value is valid: a short fuzzer input padded with zeros still maps to a config.
"""

import functools
import re

from google.protobuf.descriptor import FieldDescriptor as FD
from hypothesis import strategies as st

from proxy.config import rules as R
from proxy.config import validate as V

from fuzz.configgen import _formats as formats
from fuzz.configgen._draw import checked


class GenerationImpossible(ValueError):
    """The rules of a field admit no value (e.g. every number of its range is in not_in)."""


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


def value_strategy(field, rules, bounds, fmt: str | None = None):
    """`field` gives the type (and the enum); `rules` is the FieldRules that applies to this value
    (the field's own, or its repeated `items` / map `keys` / `values`), or None."""
    kind = R.rule_kind(rules)
    c = R.constraints(rules) if kind not in (None, "message") else {}
    if fmt is not None and (field.type in _INT_RANGES or field.type == FD.TYPE_BOOL):
        return _formatted_number(field, rules, fmt)
    if field.type in _INT_RANGES:
        return _integers(
            c, *_INT_RANGES[field.type], bounds.int_cap(field.full_name), bounds.small_span, field.full_name
        )
    if field.type in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        return _floats(c, bounds.int_cap(field.full_name))
    if field.type == FD.TYPE_BOOL:
        return st.just(c["const"]) if "const" in c else st.booleans()
    if field.type == FD.TYPE_ENUM:
        return _enum(field, c)
    if field.type == FD.TYPE_STRING:
        return _string(field, rules, c, bounds, fmt)
    if field.type == FD.TYPE_BYTES:
        return st.binary(max_size=bounds.max_chars)
    raise GenerationImpossible(f"{field.full_name}: unsupported field type {field.type}")


def naive_value_strategy(field, bounds):
    """Any value of the field's type (bounded in size only): what a rule-blind generator draws."""
    if field.type in _INT_RANGES:
        return st.integers(*_INT_RANGES[field.type])
    if field.type in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        return st.floats(allow_nan=False, width=32 if field.type == FD.TYPE_FLOAT else 64)
    if field.type == FD.TYPE_BOOL:
        return st.booleans()
    if field.type == FD.TYPE_ENUM:
        return st.sampled_from([v.number for v in field.enum_type.values])
    if field.type == FD.TYPE_STRING:
        return st.text(_alphabet(bounds), max_size=bounds.max_chars)
    return st.binary(max_size=bounds.max_chars)


# --- numbers ---------------------------------------------------------------------------------


def _formatted_number(field, rules, fmt):
    """A number (or bool) field with a format (fuzz/configgen/_formats.py): its values, checked against the
    field's rules (a value they refuse becomes a valid one)."""
    check = V._value_check(field, rules) if rules is not None else None
    drawn = formats.strategy(fmt)
    if check is None:
        return drawn
    try:
        return checked(drawn, lambda v: check(v) is None, field.full_name)
    except ValueError as exc:
        raise GenerationImpossible(str(exc)) from None


def _integers(c, type_low, type_high, cap, small_span, name):
    if "const" in c:
        return st.just(c["const"])
    low, high = type_low, type_high
    if "gt" in c:
        low = c["gt"] + 1
    if "gte" in c:
        low = c["gte"]
    if "lt" in c:
        high = c["lt"] - 1
    if "lte" in c:
        high = c["lte"]
    if ("gt" in c or "gte" in c) and ("lt" in c or "lte" in c) and high < low:
        # protoc-gen-validate's exclusive range (lt <= gt): the value lies outside [high+1, low-1].
        ranges = [(type_low, high), (low, type_high)]
    else:
        ranges = [(max(low, type_low), min(high, type_high))]
    banned = frozenset(c.get("not_in", ()))
    if c.get("in"):
        allowed = sorted(v for v in set(c["in"]) if v not in banned and any(lo <= v <= hi for lo, hi in ranges))
        if not allowed:
            raise GenerationImpossible(f"{name}: no value of `in` satisfies the other rules")
        return st.sampled_from(allowed)
    parts = [
        s
        for lo, hi in ranges
        if lo <= hi
        for s in [_biased_range(*_narrow(lo, hi, cap), banned, small_span)]
        if s is not None
    ]
    if not parts:
        raise GenerationImpossible(f"{name}: the rules admit no integer")
    return st.one_of(parts)


def _narrow(low, high, cap):
    """The part of [low, high] near zero (within +-cap); if none, the cap-wide end nearest zero."""
    lo, hi = max(low, -cap), min(high, cap)
    if lo <= hi:
        return lo, hi
    if low > cap:
        return low, min(high, low + cap)
    return max(low, high - cap), high


def _biased_range(low, high, banned, small_span):
    """Edges, small values, anywhere: each a third of the time. Banned values are skipped over
    (a bijection, not a filter, so no draw is ever rejected)."""
    skipped = sorted(b for b in banned if low <= b <= high)
    size = high - low + 1 - len(skipped)
    if size <= 0:
        return None

    def nth_allowed(k):
        value = low + k
        for b in skipped:
            if b <= value:
                value += 1
        return value

    edges = sorted({0, 1, size - 1, min(size - 1, 2)})
    if not skipped:  # the common case: no mapping layer (each layer costs a draw)
        return st.one_of(
            st.sampled_from([low + e for e in edges]),
            st.integers(low, low + min(size - 1, small_span)),
            st.integers(low, high),
        )
    return st.one_of(
        st.sampled_from(edges),
        st.integers(0, min(size - 1, small_span)),
        st.integers(0, size - 1),
    ).map(nth_allowed)


def _floats(c, cap):
    if "const" in c:
        return st.just(c["const"])
    low = c.get("gte", c.get("gt", -float(cap)))
    high = c.get("lte", c.get("lt", float(cap)))
    values = st.floats(
        min_value=max(low, -cap) if low <= cap else low,
        max_value=min(high, cap) if high >= -cap else high,
        exclude_min="gt" in c,
        exclude_max="lt" in c,
        allow_nan=False,
        allow_infinity=False,
    )
    banned = set(c.get("not_in", ()))
    if c.get("in"):
        return st.sampled_from(sorted(v for v in c["in"] if v not in banned))
    return checked(values, lambda v: v not in banned, "float not_in") if banned else values


def _enum(field, c):
    if "const" in c:
        return st.just(c["const"])
    numbers = [v.number for v in field.enum_type.values]
    if c.get("in"):
        numbers = [n for n in c["in"]]
    banned = set(c.get("not_in", ()))
    numbers = [n for n in dict.fromkeys(numbers) if n not in banned]
    if not numbers:
        raise GenerationImpossible(f"{field.full_name}: the enum rules admit no value")
    return st.sampled_from(numbers)


# --- strings ---------------------------------------------------------------------------------

# Length rules that _char_bounds turns into safe character bounds (len_bytes is not among them:
# an exact byte length is only met by checking).
_LENGTHS = frozenset({"min_len", "max_len", "len", "min_bytes", "max_bytes", "ignore_empty"})
_WELL_KNOWN = ("ip", "ipv4", "ipv6", "hostname", "address", "uuid")
# `^ATOM+$`, `^ATOM*$`, `^ATOM{m,n}$` where ATOM is one class, escape or plain character.
_SIMPLE_REPEAT = re.compile(
    r"^\^(\[(?:\\.|[^\]\\])+\]|\\.|[^\\\[\]()|?*+{}^$.])"
    r"(\+|\*|\{(\d+)(?:,(\d*))?\})\$$"
)


@functools.lru_cache(maxsize=None)
def _matching_chars(atom: str, max_codepoint: int) -> str:
    """The characters up to max_codepoint that the one-character regex `atom` matches (drawing
    from this string is far faster than from_regex drawing one character at a time)."""
    one = re.compile(atom)
    return "".join(ch for ch in map(chr, range(max_codepoint + 1)) if one.fullmatch(ch))


def _alphabet(bounds):
    return st.characters(codec="utf-8", max_codepoint=bounds.max_codepoint)


def _text(chars: str, min_size: int, max_size: int):
    """Strings of `chars`: half of them from its printable ASCII part alone (what requests carry,
    so that routes and matchers built from them can match), half from all of it."""
    printable = "".join(ch for ch in chars if " " <= ch <= "~")
    every = st.text(chars, min_size=min_size, max_size=max_size)
    if not printable or printable == chars:
        return every
    return st.one_of(st.text(printable, min_size=min_size, max_size=max_size), every)


def _string(field, rules, c, bounds, fmt):
    check = V._value_check(field, rules) if rules is not None else None
    if "const" in c:
        return st.just(c["const"])
    banned = frozenset(c.get("not_in", ()))
    if c.get("in"):
        allowed = [v for v in dict.fromkeys(c["in"]) if v not in banned and (check is None or check(v) is None)]
        if not allowed:
            raise GenerationImpossible(f"{field.full_name}: no value of `in` satisfies the other rules")
        return st.sampled_from(allowed)
    low, high = _char_bounds(c, bounds)
    if low > high:
        raise GenerationImpossible(f"{field.full_name}: the length rules admit no string")
    fixed = len(c.get("prefix", "")) + len(c.get("contains", "")) + len(c.get("suffix", ""))
    well_known = next((name for name in _WELL_KNOWN if c.get(name)), None)
    # `exact`: the construction alone satisfies every rule set, so no check is needed afterwards.
    exact = False
    if fmt is not None or well_known is not None:
        # Formats have their natural lengths (an IPv6 CIDR is longer than bounds.max_chars).
        drawn = formats.strategy(fmt or well_known, _rule_max(c))
    elif "pattern" in c:
        drawn, exact = _pattern(c, low, high, bounds)
        exact = exact and set(c) <= _LENGTHS | {"pattern"}
    else:
        exact = set(c) <= _LENGTHS | {"prefix", "suffix", "contains"}
        body = _text(_free_chars(c, bounds), max(0, low - fixed), max(0, high - fixed))
        drawn = body.map(lambda s, p=c.get("prefix", ""), k=c.get("contains", ""), x=c.get("suffix", ""): p + k + s + x)
    if check is None or exact:
        return drawn
    try:
        return checked(drawn, lambda v: check(v) is None, field.full_name)
    except ValueError as exc:
        raise GenerationImpossible(str(exc)) from None


def _rule_max(c):
    limits = [c[k] for k in ("max_len", "len") if k in c]
    limits += [c[k] for k in ("max_bytes", "len_bytes") if k in c]
    return min(limits) if limits else 253


def _char_bounds(c, bounds):
    """(min, max) characters: the rules' bounds, narrowed to bounds.max_chars where they allow.
    A character is 1 to 4 bytes, so byte bounds become character bounds on the safe side
    (min_bytes characters are always enough bytes; max_bytes // 4 never too many)."""
    low = max(
        c.get("min_len", 0),
        c.get("len", 0),
        c.get("min_bytes", 0),
        c.get("len_bytes", 0),
        len(c.get("prefix", "")) + len(c.get("contains", "")) + len(c.get("suffix", "")),
    )
    high = min([c[k] for k in ("max_len", "len", "max_bytes", "len_bytes") if k in c], default=10**9)
    if "max_bytes" in c and not _needs_ascii(c, bounds):
        high = min(high, c["max_bytes"] // 4)
    return low, min(high, max(low, bounds.max_chars))


def _needs_ascii(c, bounds) -> bool:
    """Byte rules that multi-byte characters could break are met with ASCII (1 byte a character)."""
    if "len_bytes" in c:
        return True
    if "max_bytes" in c:
        return c["max_bytes"] // 4 < max(c.get("min_len", 0), c.get("min_bytes", 0), 1)
    return False


def _free_chars(c, bounds) -> str:
    top = 0x7F if _needs_ascii(c, bounds) else bounds.max_codepoint
    return "".join(map(chr, range(top + 1)))


def _pattern(c, low, high, bounds):
    """A pattern intersected with the length bounds: constructed exactly for a single repeated
    atom (the common `^[class]+$` shape), else Hypothesis's from_regex, checked afterwards."""
    pattern = c["pattern"]
    simple = _SIMPLE_REPEAT.match(pattern)
    if simple and not any(k in c for k in ("prefix", "suffix", "contains")):
        atom, quantifier, m, n = simple.groups()
        rep_min, rep_max = {"+": (1, None), "*": (0, None)}.get(quantifier, (None, None))
        if rep_min is None:
            rep_min = int(m)
            rep_max = rep_min if n is None else (int(n) if n else None)
        size_min = max(low, rep_min)
        size_max = high if rep_max is None else min(high, rep_max)
        chars = _matching_chars(atom, bounds.max_codepoint)
        if size_min <= size_max and chars:
            return _text(chars, size_min, size_max), True
    regex = V.compile_pattern(pattern)
    return st.from_regex(regex, fullmatch=True, alphabet=_alphabet(bounds)), False
