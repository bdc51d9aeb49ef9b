#!/usr/bin/env python3
"""The parent of `--concurrency N` (proxy/workers.py) with simulated workers, signals and admin clients.

See fuzz/targets/workers.py for the input layout, the simulated workers and the oracles.
"""

import sys

import atheris

from fuzz import harness

with harness.instrumented("workers"):
    from fuzz.targets import workers


def TestOneInput(data):
    workers.run(data)


describe = workers.describe  # triage shows inputs as the harness reads them


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput, **harness.mutators("workers"))
    atheris.Fuzz()
