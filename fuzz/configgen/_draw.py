"""Bytes -> values, the way Hypothesis's `fuzz_one_input` maps them (it is what runs here).

    to_value = BytesToValue(strategy); to_value(data) -> a value, or None (bytes ran out, or a
    draw was rejected)
    checked(strategy, ok, what) -> the strategy, with values failing `ok` replaced by one valid
    example found once (a map, not a filter: no draw is ever rejected, so a zero-padded input
    always maps to a value)
    weighted([(strategy, weight), ...]) -> one_of with weights; an all-zero buffer draws the first

The mapping depends on the Hypothesis version: requirements.txt pins it.
"""

import random

from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import strategies as st


class BytesToValue:
    def __init__(self, strategy):
        box = self._box = []

        @settings(database=None, deadline=None, verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck))
        @given(strategy)
        def capture(value):
            box.append(value)

        self._run = capture.hypothesis.fuzz_one_input

    def __call__(self, data: bytes):
        self._box.clear()
        self._run(bytes(data))
        return self._box[0] if self._box else None


def checked(strategy, ok, what: str, tries: int = 2000):
    """Values that fail `ok` become `example`, the first valid value of a fixed sequence of
    draws (deterministic). Raises ValueError naming `what` when no draw is valid."""
    draw = BytesToValue(strategy)
    rng = random.Random(0)
    example = None
    for i in range(tries):
        value = draw(bytes(64) if i == 0 else rng.randbytes(256))
        if value is not None and ok(value):
            example = value
            break
    if example is None:
        raise ValueError(f"{what}: no valid value in {tries} draws of {strategy!r}"[:500])
    return strategy.map(lambda v: v if ok(v) else example)


def _same(value):
    return value


def weighted(choices):
    """one_of over (strategy, weight) pairs, each drawn weight times as often as a weight of 1.
    Hypothesis's one_of keeps one of several identical branch objects, so each repeat is its own
    (identity) map of the strategy."""
    return st.one_of([s if i == 0 else s.map(_same) for s, weight in choices for i in range(weight)])
