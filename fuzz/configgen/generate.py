"""The generator: strategies from the schema's rules, the repair pass, the committed pool and
`gen-configs` (the package docstring, fuzz/configgen/__init__.py, says how to use it)."""

import argparse
import functools
import random
import sys
import types
from pathlib import Path

import yaml
from google.protobuf import json_format
from google.protobuf.message import Message
from hypothesis import strategies as st

from proxy.config.schema import message_class

from fuzz.configgen import _facts as default_facts
from fuzz.configgen._bounds import DEFAULT_BOUNDS, Bounds
from fuzz.configgen._draw import BytesToValue
from fuzz.configgen._messages import MessageStrategies
from fuzz.configgen._repair import repair
from fuzz.configgen._scalars import GenerationImpossible


class ConfigGenerator:
    """Valid messages of one root type: strategies from the rules, then the repair pass.

    `facts` is a module (or object) with the tables of fuzz/configgen/_facts.py; None for a schema
    with no cross-field facts (the rules alone then define validity)."""

    def __init__(self, descriptor, bounds: Bounds = DEFAULT_BOUNDS, facts=default_facts):
        self.descriptor = descriptor
        self.bounds = bounds
        self.facts = facts
        members = {k: f() for k, f in getattr(facts, "ONEOF_MEMBERS", {}).items()}
        excluded = {k: f() for k, f in getattr(facts, "EXCLUDED_VALUES", {}).items()}
        self.strategies = MessageStrategies(
            bounds,
            field_formats=getattr(facts, "FIELD_FORMATS", {}),
            oneof_members=members,
            terminal_last=getattr(facts, "TERMINAL_LAST", {}),
            excluded_values=excluded,
            member_weights=getattr(facts, "MEMBER_WEIGHTS", {}),
            min_items=getattr(facts, "MIN_ITEMS", {}),
            max_items=getattr(facts, "MAX_ITEMS", {}),
            absent_weights=getattr(facts, "ABSENT_WEIGHTS", {}),
        )
        self._class = message_class(descriptor)
        self._drawn = self.strategies.message(descriptor)
        self.strategy = st.composite(self._draw_repaired)()
        self._from_bytes = BytesToValue(self.strategy)
        self._zeros = bytes(bounds.pad_bytes)
        self._cached = functools.lru_cache(maxsize=bounds.cache_size)(self._serialized_from_bytes)

    def _draw_repaired(self, draw):
        message = draw(self._drawn)
        if self.facts is not None:
            repair(message, draw, self.strategies, self.facts, self.bounds)
        return message

    def from_bytes(self, data: bytes):
        """A valid message for any bytes: the first bounds.max_input_bytes of them are the draw's
        choices, padded with zeros (the simplest choices); a rejected draw falls back to other
        draws. Returns a fresh message each call (the cache holds serialized bytes, so nothing
        cached is mutable)."""
        return self._class.FromString(self._cached(bytes(data[: self.bounds.max_input_bytes])))

    def _serialized_from_bytes(self, data: bytes) -> bytes:
        # A rejected draw (a unique list that cannot reach its min_items, say) falls back to the
        # all-zero draw, then to draws seeded by the input: the mapping stays a function of it.
        rng = random.Random(data)
        attempts = [data + self._zeros, self._zeros]
        for attempt in range(100):
            buffer = attempts[attempt] if attempt < 2 else rng.randbytes(1024) + self._zeros
            message = self._from_bytes(buffer)
            if message is not None:
                return message.SerializeToString(deterministic=True)
        raise GenerationImpossible(f"{self.descriptor.full_name}: 100 draws in a row were rejected")

    def pool(self, n: int, seed: int, accept=None, tries_per_item: int = 20) -> list[Message]:
        """n messages from seeded random bytes; `accept(message, slot) -> bool` skips messages (the
        default pool skips configs this build cannot build; slot: the index the message would
        get). Deterministic for (n, seed) and the pinned Hypothesis version."""
        rng = random.Random(seed)
        out: list[Message] = []
        attempts = 0
        while len(out) < n:
            attempts += 1
            if attempts > tries_per_item * n + 100:
                raise GenerationImpossible(
                    f"only {len(out)} of {n} generated configurations were accepted in {attempts - 1} attempts"
                )
            message = self.from_bytes(rng.randbytes(self.bounds.pool_buffer_bytes))
            if accept is None or accept(message, len(out)):
                out.append(message)
        return out


# Facts that need the Bootstrap around a message: references to its clusters, its bind addresses.
WHOLE_CONFIG_FACTS = ("NAME_SOURCES", "REFERENCES", "BIND_ADDRESSES")


@functools.lru_cache(maxsize=None)
def fragment_generator(descriptor) -> ConfigGenerator:
    """Valid messages of a type drawn alone (a filter's configuration, which the uber-filter
    harnesses put in a listener they make, with the clusters it names): the values and weights of
    the whole-config facts (principals the test PKI's client presents, ranges around the sessions'
    sources, timeouts their time steps cross), without the facts only a Bootstrap can satisfy."""
    tables = {name: getattr(default_facts, name) for name in dir(default_facts) if name.isupper()}
    facts = types.SimpleNamespace(**{k: v for k, v in tables.items() if k not in WHOLE_CONFIG_FACTS})
    return ConfigGenerator(descriptor, facts=facts)


@functools.lru_cache(maxsize=None)
def default_generator() -> ConfigGenerator:
    from proxy.config import schema

    return ConfigGenerator(schema.BOOTSTRAP_DESCRIPTOR)


def bootstraps(bounds: Bounds = DEFAULT_BOUNDS):
    """A Hypothesis strategy of valid Bootstrap messages (rules and cross-field facts hold)."""
    if bounds == DEFAULT_BOUNDS:
        return default_generator().strategy
    from proxy.config import schema

    return ConfigGenerator(schema.BOOTSTRAP_DESCRIPTOR, bounds).strategy


def naive_bootstraps(bounds: Bounds = DEFAULT_BOUNDS):
    """The baseline: random Bootstrap messages of the same schema and sizes, ignoring every rule."""
    from proxy.config import schema

    return MessageStrategies(bounds, follow_rules=False).message(schema.BOOTSTRAP_DESCRIPTOR)


def config_from_bytes(data: bytes):
    """The session harness's entry: any bytes -> a valid Bootstrap (a fresh message). Only the
    first DEFAULT_BOUNDS.max_input_bytes (4 KiB) count; the mapping is cached by them, so a
    repeated config prefix costs one parse, not a draw."""
    return default_generator().from_bytes(data)


def builds(bootstrap) -> bool:
    from proxy.build import BuildError, build

    try:
        build(bootstrap)
    except BuildError:
        return False
    return True


def pool(n: int, seed: int = 0, useful=None) -> list:
    """n valid Bootstrap configurations that build, deterministic for (n, seed); with
    `useful(bootstrap, slot) -> bool`, only those it accepts for their slot of the pool (a draw it
    refuses is skipped, so it costs time, never validity)."""
    if useful is None:
        return default_generator().pool(n, seed, accept=lambda c, slot: builds(c))
    return default_generator().pool(n, seed, accept=lambda c, slot: builds(c) and useful(c, slot), tries_per_item=400)


def _sorted_maps(message, tree):
    """Map fields with their keys sorted: protobuf's own map order changes between processes,
    and the same configuration must give the same file."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            entries = tree[field.name]
            holds_messages = field.message_type.fields_by_name["value"].message_type is not None
            tree[field.name] = {
                k: _sorted_maps(value[k], entries[k]) if holds_messages else entries[k] for k in sorted(entries)
            }
        elif field.is_repeated:
            for item, item_tree in zip(value, tree[field.name]):
                _sorted_maps(item, item_tree)
        else:
            _sorted_maps(value, tree[field.name])
    return tree


class _Dumper(yaml.SafeDumper):
    """Strings with line breaks or unprintable characters are written double-quoted, where every
    one of them is an escape: in plain or single-quoted style YAML folds line breaks (and NEL,
    U+0085) into spaces when it reads them back."""


def _represent_str(dumper, value):
    style = '"' if any(not ch.isprintable() for ch in value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def to_yaml(message, header: str = "") -> str:
    tree = _sorted_maps(message, json_format.MessageToDict(message, preserving_proto_field_name=True))
    body = yaml.dump(tree, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    lines = "".join(f"# {line}\n" for line in header.splitlines())
    return lines + body


def write_configs(
    n: int, out, seed: int = 0, for_sessions: bool = False, forwarding: bool = False, identities: bool = False
) -> list:
    """Write n generated configurations to `out`; `for_sessions`: the session pool's, each reached
    by session requests (fuzz/pool_reach.py says how that is measured); `forwarding`: the session
    pool's forwarding family (fuzz/configgen/forwarding.py); `identities`: its TLS identity family
    (fuzz/configgen/identities.py)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    useful = None
    if for_sessions:
        from fuzz.pool_reach import useful_for_sessions  # lazy: stage 2's sessions, only asked for here

        useful = useful_for_sessions
    if forwarding:
        from fuzz.configgen import forwarding as family

        configs, name, made_by, flag = family.pool(n, seed), "forward", "fuzz/configgen/forwarding.py", " --forwarding"
    elif identities:
        from fuzz.configgen import identities as tls_family

        configs, name, made_by = tls_family.pool(n, seed), "identity", "fuzz/configgen/identities.py"
        flag = " --identities"
    else:
        configs, name, made_by = pool(n, seed, useful), "config", "fuzz/configgen from the schema"
        flag = " --for-sessions" if for_sessions else ""
    paths = []
    for i, config in enumerate(configs):
        path = out / f"{name}-s{seed}-{i:04d}.yaml"
        header = (
            f"Generated by {made_by} (seed {seed}, config {i}).\n"
            f"Regenerate: python -m fuzz gen-configs {n} --out {out} --seed {seed}{flag}"
        )
        path.write_text(to_yaml(config, header), encoding="utf-8")
        paths.append(path)
    return paths


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 100000, got {value}")
    return value


def gen_configs(argv=None) -> int:
    """`gen-configs N --out DIR [--seed S]`: write N generated configurations as YAML."""
    parser = argparse.ArgumentParser(
        prog="python -m fuzz gen-configs",
        description="Write N valid configurations generated from the schema and its rules.",
    )
    parser.add_argument("n", metavar="N", type=_count, help="how many configurations")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--for-sessions",
        action="store_true",
        help="the session pool: keep only configurations whose routes session requests reach "
        "(three in four; the fourth: any upstream, tcp_proxy included)",
    )
    parser.add_argument(
        "--forwarding",
        action="store_true",
        help="the session pool's forwarding family (fuzz/configgen/forwarding.py): every route forwards",
    )
    parser.add_argument(
        "--identities",
        action="store_true",
        help="the session pool's TLS identity family (fuzz/configgen/identities.py): mTLS chains, "
        "RBAC principals, SAN lists and version caps drawn from the test PKI's names",
    )
    args = parser.parse_args(argv)
    try:
        paths = write_configs(args.n, args.out, args.seed, args.for_sessions, args.forwarding, args.identities)
    except OSError as exc:
        print(f"gen-configs: cannot write to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(paths)} configurations to {args.out} (seed {args.seed})")
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "gen-configs":
        print(
            "usage: python -m fuzz.configgen gen-configs N --out DIR [--seed S] [--for-sessions | --forwarding | --identities]",
            file=sys.stderr,
        )
        return 2
    return gen_configs(argv[1:])
