#!/usr/bin/env python3
"""Test-only atheris harness with planted bugs, for the triage tests (never fuzzed for real).

The first byte picks the behaviour; see planted.py. Run it like any harness:
    tests/triage_harness/fuzz_planted.py -runs=1 FILE
"""

import sys

import atheris

with atheris.instrument_imports():
    import planted


def TestOneInput(data: bytes) -> None:
    planted.dispatch(data)


describe = planted.describe  # triage shows an input as the harness reads it


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
