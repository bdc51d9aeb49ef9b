"""The config mutator's line_end edit (fuzz/mutators/config.py): a text field given a line end after
its last character. Planted: the rule interpreter compiles a pattern's `$` as Python's (which also
matches before a final newline) instead of RE2's end of text; the config harness's reference
(PGV's reading of the schema's patterns) refuses what it accepts."""

import random
import re

from fuzz.mutators import config
from fuzz.oracles import InvariantViolation
from fuzz.targets import config as config_target
from proxy.config import validate


def _edited(n: int) -> list[bytes]:
    out = []
    for seed in range(n):
        message = config.parse(bytes([config.PROTO]) + config.generated_config(seed % config.BASES))
        if config.OPS["line_end"][1](message, random.Random(seed)):
            out.append(bytes([config.PROTO]) + message.SerializeToString())
    return out


def test_a_dollar_that_matches_before_a_final_newline_is_caught(monkeypatch):
    inputs = _edited(16)
    for data in inputs:  # the clean interpreter agrees with the reference
        config_target.run(data)
    monkeypatch.setattr(validate, "compile_pattern", re.compile)  # the planted bug: `$` as Python reads it
    monkeypatch.setattr(validate, "_PLANS", {})  # plans compile their patterns once
    caught = 0
    for data in inputs:
        try:
            config_target.run(data)
        except InvariantViolation:
            caught += 1
    assert caught >= 1, len(inputs)
