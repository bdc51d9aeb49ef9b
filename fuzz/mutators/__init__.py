"""Structure-aware mutators for the harnesses (atheris `custom_mutator` / `custom_crossover`).

One module per input format: http1.py (HTTP/1.1 messages), http2.py (HTTP/2 frames and HPACK
field lists), actions.py (action scripts, through each harness's own decoder and encoder;
scenarios.py writes whole session scenarios from the session grammar's roles for it),
translate.py (http_translate's input modes), listener.py (listener_filter's ClientHello fields),
config.py (config's Bootstrap messages, field by field), h2_actions.py (a prologue of h2_codec
actions, encoded by fdp.py for FuzzedDataProvider); base.py states libFuzzer's contract and the
share of calls left to libFuzzer's byte mutator.

A harness opts in with one line:

    atheris.Setup(sys.argv, TestOneInput, **harness.mutators("h1_server"))

`setup_kwargs(NAME)` gives atheris.Setup the mutator registered for NAME in MUTATORS, or nothing
(libFuzzer's byte mutator alone) when the harness has none or PROXYFUZZ_MUTATOR=bytes. Replay,
coverage and OSS-Fuzz's coverage build never mutate, so they run exactly as before.
With PROXYFUZZ_MUTATION_STATS=DIR each fuzzing process (fork-mode workers too) writes its counts
of mutation kinds to DIR/<pid>.json as they grow; the run summary adds them up.
"""

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

MUTATOR_ENV = "PROXYFUZZ_MUTATOR"  # custom (default) | bytes
STATS_ENV = "PROXYFUZZ_MUTATION_STATS"  # folder for per-process counts
MODES = ("custom", "bytes")

# harness name -> "module:factory(byte_mutate) -> Mutator"
MUTATORS = {
    "h1_server": "fuzz.mutators.http1:requests",
    "h1_client": "fuzz.mutators.http1:responses",
    "h2_codec": "fuzz.mutators.http2:codec_pair",
    "http_translate": "fuzz.mutators.translate:Translate",
    "session": "fuzz.mutators.actions:session",
    "network_filter": "fuzz.mutators.actions:network_filter",
    "http_filter": "fuzz.mutators.actions:http_filter",
    "listener_filter": "fuzz.mutators.listener:listener_filter",
    "config": "fuzz.mutators.config:config",
}


def create(name: str, byte_mutate=None):
    """The mutator registered for harness `name` (None if it has none)."""
    if name not in MUTATORS:
        return None
    module, factory = MUTATORS[name].split(":")
    return getattr(importlib.import_module(module), factory)(byte_mutate)


def mode() -> str:
    chosen = os.environ.get(MUTATOR_ENV, "custom")
    if chosen not in MODES:
        raise ValueError(f"{MUTATOR_ENV}={chosen!r}: expected one of {', '.join(MODES)}")
    return chosen


def setup_kwargs(name: str) -> dict:
    """Keyword arguments for atheris.Setup: the harness's custom mutator and crossover, or {}."""
    if mode() == "bytes":
        return {}
    from fuzz.mutators.base import atheris_byte_mutate

    mutator = create(name, atheris_byte_mutate)
    if mutator is None:
        return {}
    hooked = Hooked(mutator, os.environ.get(STATS_ENV))
    return {"custom_mutator": hooked.mutate, "custom_crossover": hooked.crossover}


class Hooked:
    """The mutator as libFuzzer calls it: an exception inside it falls back to the byte mutator
    (counted as 'error', its first traceback printed) rather than ending the campaign, and the
    counts are written out now and then."""

    def __init__(self, mutator, stats_dir: str | None) -> None:
        self.mutator = mutator
        self.path = Path(stats_dir) / f"{os.getpid()}.json" if stats_dir else None
        self.written = 0.0
        self.calls = 0
        self.reported = False

    def mutate(self, data, max_size, seed):
        try:
            return self.mutator.mutate(data, max_size, seed)
        except Exception:  # noqa: BLE001 - a mutator bug must not read as a crash of the target
            return self._failed(data, max_size, seed)
        finally:
            self._maybe_write()

    def crossover(self, data1, data2, max_size, seed):
        try:
            return self.mutator.crossover(data1, data2, max_size, seed)
        except Exception:  # noqa: BLE001
            return self._failed(data1, max_size, seed)
        finally:
            self._maybe_write()

    def _failed(self, data, max_size, seed):
        import random

        self.mutator.counts["error"] += 1
        if not self.reported:
            self.reported = True
            print(
                f"WARNING: proxyfuzz mutator {self.mutator.name} failed (falling back to bytes):\n"
                + traceback.format_exc(),
                file=sys.stderr,
            )
        return self.mutator.byte_mutate(data, max_size, random.Random(seed))[:max_size]

    def _maybe_write(self) -> None:
        # libFuzzer ends the process with exit(), which runs no Python exit handlers: counts are
        # written as they grow (after 2^k calls, then at most once a second).
        self.calls += 1
        now = time.monotonic()
        if self.path is None or (now - self.written < 1.0 and self.calls & (self.calls - 1)):
            return
        self.written = now
        tmp = self.path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps({"mutator": self.mutator.name, "counts": dict(self.mutator.counts)}))
            os.replace(tmp, self.path)
        except OSError:
            pass  # the stats folder went away: counting is best effort


def read_stats(directory: Path) -> dict:
    """Counts of mutation kinds summed over every process that wrote to `directory`."""
    total: dict = {}
    for path in sorted(Path(directory).glob("*.json")) if Path(directory).is_dir() else []:
        try:
            counts = json.loads(path.read_text())["counts"]
        except (OSError, ValueError, KeyError):
            continue
        for kind, n in counts.items():
            total[kind] = total.get(kind, 0) + n
    return total


def shares_line(counts: dict, top: int = 12) -> str:
    """'mutations: N; bytes 25%, h1.field_insert 7%, ...' (the largest shares first)."""
    total = sum(counts.values())
    if not total:
        return "mutations: none recorded"
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    parts = [f"{kind} {100 * n / total:.0f}%" for kind, n in ranked[:top]]
    if len(ranked) > top:
        parts.append(f"{len(ranked) - top} more kinds {100 * sum(n for _, n in ranked[top:]) / total:.0f}%")
    return f"mutations: {total}; " + ", ".join(parts)
