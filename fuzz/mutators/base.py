"""What every structure-aware mutator shares: the libFuzzer contract, the byte fallback, counting.

libFuzzer's contract (LLVMFuzzerCustomMutator / LLVMFuzzerCustomCrossOver, wired by atheris's
`custom_mutator` / `custom_crossover`): once a custom mutator exists, libFuzzer's own byte
mutations (with the dictionary and the comparison operands it traced) run only when the custom
mutator asks for them (atheris.Mutate); each mutation step picks the custom mutator or the
custom crossover at random, up to -mutate_depth steps per input; the result must fit max_size,
which grows with -len_control. So a mutator here

- hands `bytes_share` of its calls to the byte mutator, so nothing libFuzzer reaches alone is lost;
- does the rest at its format's level (`structured`), falling back to bytes when the input gives
  it nothing to work on or the result would not fit;
- is deterministic for (data, max_size, seed): all its choices come from random.Random(seed)
  (the byte fallback is libFuzzer's own, deterministic for libFuzzer's -seed);
- counts what it did per kind (`counts`), for the run summary.
"""

import random
from collections import Counter

BYTES = "bytes"


def python_byte_mutate(data: bytes, max_size: int, rng: random.Random) -> bytes:
    """A small stand-in for atheris.Mutate outside a libFuzzer run (tests, tools): flip, insert,
    erase or copy a few bytes, deterministically for rng."""
    out = bytearray(data)
    for _ in range(1 + rng.randrange(3)):
        choice = rng.randrange(4)
        if choice == 0 and out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        elif choice == 1:
            out.insert(rng.randrange(len(out) + 1), rng.randrange(256))
        elif choice == 2 and len(out) > 1:
            at = rng.randrange(len(out))
            del out[at : at + 1 + rng.randrange(4)]
        elif out:
            at, n = rng.randrange(len(out)), 1 + rng.randrange(8)
            out[rng.randrange(len(out) + 1) : 0] = out[at : at + n]
    return bytes(out[:max_size])


def atheris_byte_mutate(data: bytes, max_size: int, rng: random.Random) -> bytes:
    """libFuzzer's own mutation of `data` (only inside a running atheris.Fuzz())."""
    import atheris

    return atheris.Mutate(data, max_size)


class Mutator:
    """Base class. Subclasses implement `structured(data, max_size, rng)`, returning
    (kinds applied, new bytes) or None when they cannot work on this input, and may override
    `splice(a, b, max_size, rng)` for crossover the same way."""

    name = "mutator"
    bytes_share = 0.25  # share of calls handed to the byte mutator
    crossover_share = 0.5  # share of crossover calls that splice (the rest mutate the first input)

    def __init__(self, byte_mutate=None) -> None:
        self.byte_mutate = byte_mutate or python_byte_mutate
        self.counts: Counter = Counter()

    # ------------------------------------------------------------------------- libFuzzer entry points
    def mutate(self, data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        return self._mutate(data, max_size, rng)

    def crossover(self, data1: bytes, data2: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < self.crossover_share:
            result = self.splice(data1, data2, max_size, rng)
            if result is not None and len(result[1]) <= max_size:
                kinds, out = result
                self.counts.update(f"cross.{k}" for k in kinds)
                return out
        return self._mutate(data1, max_size, rng)

    # ------------------------------------------------------------------------- for subclasses
    def structured(self, data: bytes, max_size: int, rng: random.Random):
        return None

    def splice(self, data1: bytes, data2: bytes, max_size: int, rng: random.Random):
        """Default crossover: a prefix of one input and a suffix of the other."""
        i, j = rng.randrange(len(data1) + 1), rng.randrange(len(data2) + 1)
        return ["bytes"], (data1[:i] + data2[j:])[:max_size]

    # ------------------------------------------------------------------------- internals
    def _mutate(self, data: bytes, max_size: int, rng: random.Random) -> bytes:
        if rng.random() >= self.bytes_share:
            result = self.structured(data, max_size, rng)
            if result is not None:
                kinds, out = result
                if out != data and len(out) <= max_size:
                    self.counts.update(kinds)
                    return out
        self.counts[BYTES] += 1
        return self.byte_mutate(data, max_size, rng)[:max_size]


def apply_ops(ops: dict, target, rng: random.Random, prefix: str, tries: int = 6) -> list[str]:
    """Apply 1 to 3 operations of `ops` (kind -> (weight, fn(target, rng) -> bool)) to `target`,
    in place; an op returning False did not apply (nothing to work on) and another is drawn.
    Returns the kinds applied, named PREFIX.KIND."""
    names = list(ops)
    weights = [ops[n][0] for n in names]
    wanted = 1 + (rng.random() < 0.3) + (rng.random() < 0.1)
    done: list[str] = []
    for _ in range(tries * wanted):
        if len(done) >= wanted:
            break
        name = rng.choices(names, weights)[0]
        if ops[name][1](target, rng):
            done.append(f"{prefix}.{name}")
    return done


# Operations on any list of parts (field lines, messages, frames, actions); True when they applied.
def drop_one(items: list, rng: random.Random, keep: int = 0) -> bool:
    if len(items) <= keep:
        return False
    del items[rng.randrange(len(items))]
    return True


def swap_two(items: list, rng: random.Random) -> bool:
    if len(items) < 2:
        return False
    i, j = rng.sample(range(len(items)), 2)
    items[i], items[j] = items[j], items[i]
    return True


def duplicate_one(items: list, rng: random.Random, copy=lambda item: item, limit: int | None = None) -> bool:
    """A copy of one item, right after it or anywhere."""
    if not items or (limit is not None and len(items) >= limit):
        return False
    i = rng.randrange(len(items))
    items.insert(i + 1 if rng.random() < 0.5 else rng.randrange(len(items) + 1), copy(items[i]))
    return True


def move_one(items: list, rng: random.Random) -> bool:
    if len(items) < 2:
        return False
    item = items.pop(rng.randrange(len(items)))
    items.insert(rng.randrange(len(items) + 1), item)
    return True
