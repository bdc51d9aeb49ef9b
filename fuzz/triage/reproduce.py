"""Reproduce one artifact N times in fresh processes and decide: reproducible or flaky.

ClusterFuzz's rule: reproducible when at least half of the runs (5 of 10) fail with the same
signature; otherwise flaky — reported as such, never dropped. Runs go in parallel (`jobs`).
Timeouts are expensive (each run lasts the whole timeout), so once every run so far timed out
and the rule is decided, the remaining runs are skipped.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import math
from pathlib import Path
from typing import Hashable, TypeVar

from .classify import Failure, classify
from .run_once import HarnessCommand, RunResult, run_once
from .signature import FrameNormalizer, Signature, signature_of


@dataclasses.dataclass(frozen=True)
class Attempt:
    run: RunResult
    failure: Failure
    signature: Signature | None  # None when the run did not fail


@dataclasses.dataclass(frozen=True)
class Reproduction:
    attempts: tuple[Attempt, ...]
    planned: int  # how many runs were asked for
    signature: Signature | None  # the most frequent failing signature, if any
    matching: int  # runs with that signature

    @property
    def needed(self) -> int:
        return math.ceil(self.planned / 2)

    @property
    def reproducible(self) -> bool:
        return self.signature is not None and self.matching >= self.needed

    @property
    def representative(self) -> Attempt | None:
        """The first run that shows the chosen signature (its output goes in the report)."""
        return next((a for a in self.attempts if a.signature == self.signature), None)


def reproduce(
    command: HarnessCommand,
    normalizer: FrameNormalizer,
    harness_name: str,
    input_path: Path,
    *,
    runs: int,
    jobs: int,
    timeout: float,
    rss_limit_mb: int,
) -> Reproduction:
    if runs < 1:
        raise ValueError("the number of reproductions must be at least 1")
    needed = math.ceil(runs / 2)
    attempts: list[Attempt] = []

    def attempt(_: int) -> Attempt:
        run = run_once(command, input_path, timeout=timeout, rss_limit_mb=rss_limit_mb)
        failure = classify(run, rss_limit_mb)
        sig = signature_of(failure, normalizer, harness_name) if failure.failed else None
        return Attempt(run, failure, sig)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        while len(attempts) < runs:
            wave = min(max(1, jobs), runs - len(attempts))
            attempts.extend(pool.map(attempt, range(wave)))
            if _all_timeouts(attempts) and (len(attempts) >= needed):
                break
    return _decide(attempts, runs)


def _all_timeouts(attempts: list[Attempt]) -> bool:
    return all(a.failure.kind == "timeout" for a in attempts)


def _similarity(sig: Signature):
    """ClusterFuzz counts runs that fail "with a similar signature". Where a timeout or an
    out-of-memory run stops is a snapshot of a hot loop, so for those the kind is what must
    repeat; every other kind must repeat its exact signature."""
    return sig.kind if sig.kind in ("timeout", "oom") else sig


def _decide(attempts: list[Attempt], planned: int) -> Reproduction:
    failing = [a.signature for a in attempts if a.signature is not None]
    if not failing:
        return Reproduction(tuple(attempts), planned, None, 0)
    classes = collections.Counter(_similarity(sig) for sig in failing)
    best_class = _most_common_first_seen(classes, [_similarity(sig) for sig in failing])
    members = [sig for sig in failing if _similarity(sig) == best_class]
    best = _most_common_first_seen(collections.Counter(members), members)
    return Reproduction(tuple(attempts), planned, best, classes[best_class])


_Item = TypeVar("_Item", bound=Hashable)


def _most_common_first_seen(counts: collections.Counter[_Item], seen_order: list[_Item]) -> _Item:
    """Most frequent; a tie goes to the one seen first, so the choice is deterministic."""
    first: dict[_Item, int] = {}  # item -> where it was first seen
    for i, item in enumerate(seen_order):
        first.setdefault(item, i)
    return max(counts, key=lambda item: (counts[item], -first[item]))
