#!/usr/bin/env python3
"""A trivial target beside N instrumented-but-unreachable branches (bench only; Ada Logics' experiment).

The generated modules in $PROXYFUZZ_UNREACHABLE_DIR get counters through the engine's import hook;
nothing ever calls them, so any slowdown is the cost of counters that can never change.
"""

import json
import os
import sys
import time
from pathlib import Path

import atheris

from fuzz.instrument import hook as hook
from fuzz.harness import REPORT_ENV

GENERATED = Path(os.environ["PROXYFUZZ_UNREACHABLE_DIR"])
sys.path.insert(0, str(GENERATED))
report = hook.Report("unreachable")
started = time.monotonic()
with hook.installed(lambda name, spec: name.startswith("unreachable_"), report):
    for path in sorted(GENERATED.glob("unreachable_*.py")):
        __import__(path.stem)
instrument_seconds = time.monotonic() - started
if os.environ.get(REPORT_ENV):
    Path(os.environ[REPORT_ENV]).write_text(json.dumps(dict(report.as_dict(), seconds=instrument_seconds)))
print(f"INFO: unreachable: {report.counters} counters in {instrument_seconds:.1f} s", file=sys.stderr)


def TestOneInput(data):
    if len(data) > 2 and data[0] == 0x46:
        return


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
