"""The repair pass: after a message is drawn from its rules, make the cross-field facts hold.

    repair(root, draw, gen, facts, bounds)   # mutates `root` in place

Generic operations, driven by the tables of fuzz/configgen/_facts.py (which field is a reference
to which names, which names are unique in which list, ...); nothing here names a message of the
schema. Choices are drawn with `draw` (Hypothesis), so a repaired configuration is still a pure
function of the input bytes. Every value written here is checked against the field's own rules
(a renamed name still matches its pattern and length).
"""

import itertools
import types

from hypothesis import strategies as st

from proxy.config import rules as R
from proxy.config import validate as V


_TABLES = (
    "NAME_SOURCES",
    "REFERENCES",
    "UNIQUE_IN_LIST",
    "UNIQUE_ACROSS_ITEMS",
    "NONZERO_SUM",
    "REQUIRED_WHEN",
    "BIND_ADDRESSES",
    "NON_OVERLAPPING",
    "MESSAGE_FIXES",
)


def repair(root, draw, gen, facts, bounds) -> None:
    # A facts object may define only some tables (a test schema's); the others are empty.
    facts = types.SimpleNamespace(**{name: getattr(facts, name, {}) for name in _TABLES})
    # Ops that add messages run first: what they add is repaired by the ops after them.
    _ensure_name_sources(root, draw, gen, facts)
    _unique_names(root, facts)
    names = _defined_names(root, facts)
    handled = _distinct_references(root, draw, facts, names)
    _references(root, draw, facts, names, handled)
    _unique_across_items(root, facts)
    _nonzero_sums(root, facts)
    _required_when(root, draw, gen, facts)
    _bind_addresses(root, facts, bounds)
    _non_overlapping(root, facts, bounds)
    _message_fixes(root, facts)


# --- walking ---------------------------------------------------------------------------------


def _nodes(root, depth=0):
    """(message, depth) for every message in the tree, parents before children."""
    stack = [(root, depth)]
    while stack:
        message, d = stack.pop()
        yield message, d
        for field, value in message.ListFields():
            if field.message_type is None:
                continue
            if R.is_map(field):
                if field.message_type.fields_by_name["value"].message_type is not None:
                    stack.extend((v, d + 1) for v in value.values())
            elif field.is_repeated:
                stack.extend((item, d + 1) for item in reversed(value))
            else:
                stack.append((value, d + 1))


def _by_type(table: dict) -> dict:
    """{"pkg.Type.field": fact} -> {"pkg.Type": [("field", fact), ...]}"""
    out: dict = {}
    for full, fact in table.items():
        owner, field = full.rsplit(".", 1)
        out.setdefault(owner, []).append((field, fact))
    return out


def _sites(root, table):
    """(message, field name, fact, depth) for every message of a type that `table` mentions."""
    index = _by_type(table)
    for message, depth in list(_nodes(root)):
        for field, fact in index.get(message.DESCRIPTOR.full_name, ()):
            yield message, field, fact, depth


def _checker(field, item: bool):
    """value -> bool: does the value satisfy the field's rules (its item rules for a list)?"""
    rules = R.rules_for(field)
    if item and R.rule_kind(rules) == "repeated":
        rules = R.constraints(rules).get("items")
    check = V._value_check(field, rules) if rules is not None else None
    return (lambda v: True) if check is None else (lambda v: check(v) is None)


def _fresh(value: str, taken, ok) -> str:
    """A variant of `value` not in `taken` that still satisfies `ok` (e.g. "web" -> "web-2")."""
    for n in range(2, 10_000):
        for candidate in (f"{value}-{n}", f"{value}{n}", f"{value[:8]}-{n}", f"n{n}.{value}", f"u{n}", f"{n}"):
            if candidate not in taken and ok(candidate):
                return candidate
    raise ValueError(f"cannot find a unique variant of {value!r}")


# --- operations ------------------------------------------------------------------------------


def _ensure_name_sources(root, draw, gen, facts):
    """A reference needs something to refer to: add one named item where none exists."""
    used = {kind for message, _ in _nodes(root) for full, kind in _references_in(message, facts)}
    for kind in sorted(used):  # sorted: the draws' order must not depend on set order
        list_full, _ = facts.NAME_SOURCES[kind]
        owner, field = list_full.rsplit(".", 1)
        for message, depth in list(_nodes(root)):
            if message.DESCRIPTOR.full_name == owner and not getattr(message, field):
                list_field = message.DESCRIPTOR.fields_by_name[field]
                getattr(message, field).append(draw(gen.item(list_field, depth)))


def _references_in(message, facts):
    for field, value in message.ListFields():
        kind = facts.REFERENCES.get(field.full_name)
        if kind is not None:
            yield field.full_name, kind


def _defined_names(root, facts) -> dict:
    names = {}
    for kind, (list_full, name_field) in facts.NAME_SOURCES.items():
        owner, field = list_full.rsplit(".", 1)
        names[kind] = sorted(
            {
                getattr(item, name_field)
                for message, _ in _nodes(root)
                if message.DESCRIPTOR.full_name == owner
                for item in getattr(message, field)
            }
        )
    return names


def _unique_lists(root, facts, references: bool):
    """(items, item field, its descriptor) of the UNIQUE_IN_LIST lists whose item field is
    (references=True) or is not a reference."""
    for message, field, item_field, _ in _sites(root, facts.UNIQUE_IN_LIST):
        item_type = message.DESCRIPTOR.fields_by_name[field].message_type
        name_field = item_type.fields_by_name[item_field]
        if (name_field.full_name in facts.REFERENCES) == references:
            yield getattr(message, field), item_field, name_field


def _unique_names(root, facts):
    """Later duplicates of a name in its list are renamed ("web", "web" -> "web", "web-2")."""
    for items, item_field, name_field in _unique_lists(root, facts, references=False):
        ok = _checker(name_field, item=False)
        taken = set()
        for item in items:
            value = getattr(item, item_field)
            if value in taken:
                value = _fresh(value, taken, ok)
                setattr(item, item_field, value)
            taken.add(value)


def _distinct_references(root, draw, facts, names) -> set:
    """Lists of references that must differ get distinct targets; items beyond the number of
    targets are dropped. Returns the reference fields handled here."""
    handled = set()
    for items, item_field, name_field in _unique_lists(root, facts, references=True):
        handled.add(name_field.full_name)
        targets = draw(st.permutations(names[facts.REFERENCES[name_field.full_name]]))
        del items[len(targets) :]
        for item, target in zip(items, targets):
            setattr(item, item_field, target)
    return handled


def _references(root, draw, facts, names, handled):
    for message, _ in list(_nodes(root)):
        for full, kind in list(_references_in(message, facts)):
            if full not in handled:
                setattr(message, full.rsplit(".", 1)[1], draw(st.sampled_from(names[kind])))


def _unique_across_items(root, facts) -> None:
    for message, field, (values_field, key), _ in _sites(root, facts.UNIQUE_ACROSS_ITEMS):
        items = getattr(message, field)
        if not items:
            continue
        ok = _checker(items[0].DESCRIPTOR.fields_by_name[values_field], item=True)
        owner: dict = {}
        for i, item in enumerate(items):
            values = getattr(item, values_field)
            for j, value in enumerate(values):
                if owner.get(key(value), i) != i:
                    taken = set(owner) | {key(v) for v in values}
                    value = _fresh(value, taken, lambda v: ok(v) and key(v) not in taken)
                    values[j] = value
                owner.setdefault(key(value), i)


def _nonzero_sums(root, facts):
    for message, field, number_field, _ in _sites(root, facts.NONZERO_SUM):
        items = getattr(message, field)
        if items and not any(getattr(item, number_field) for item in items):
            setattr(items[0], number_field, 1)


def _required_when(root, draw, gen, facts):
    for message, field, (sibling, predicate), depth in _sites(root, facts.REQUIRED_WHEN):
        if predicate(getattr(message, sibling)) and not message.HasField(field):
            descriptor = message.DESCRIPTOR.fields_by_name[field]
            setattr(message, field, draw(gen.field_value(descriptor, depth)))


def _bind_addresses(root, facts, bounds):
    ports = iter(bounds.listen_ports)
    for message, _ in list(_nodes(root)):
        fields = facts.BIND_ADDRESSES.get(message.DESCRIPTOR.full_name)
        if fields is not None:
            host_field, port_field = fields
            setattr(message, host_field, bounds.listen_host)
            setattr(message, port_field, next(ports))


def _non_overlapping(root, facts, bounds) -> None:
    """An item that overlaps an earlier one of its list gets fresh values in its fix field
    (a destination port) until it overlaps none."""
    for message, field, (overlap, (sub, fix_field)), _ in _sites(root, facts.NON_OVERLAPPING):
        earlier: list = []
        used_ports = set()
        for item in getattr(message, field):
            if any(overlap(item, other) for other in earlier):
                target = getattr(item, sub)
                for port in itertools.chain(bounds.listen_ports, range(1, 65536)):
                    if port in used_ports:
                        continue
                    setattr(target, fix_field, port)
                    if not any(overlap(item, other) for other in earlier):
                        break
            if getattr(item, sub).HasField(fix_field):
                used_ports.add(getattr(getattr(item, sub), fix_field))
            earlier.append(item)


def _message_fixes(root, facts):
    """Messages whose facts are simpler fixed than stated as data (a certificate and its own
    key): each gets its fix, children before parents (a parent's fix sees fixed children)."""
    for message, _ in reversed(list(_nodes(root))):
        fix = facts.MESSAGE_FIXES.get(message.DESCRIPTOR.full_name)
        if fix is not None:
            fix(message)
