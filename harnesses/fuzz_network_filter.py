#!/usr/bin/env python3
"""Every registered network filter: a fuzzed config plus connection actions (Envoy's uber filter fuzzer).

See fuzz/targets/network_filter.py for the input layout and the write-path probe.
"""

import sys

import atheris

from fuzz import harness

with harness.instrumented("network_filter"):
    from fuzz.targets import network_filter


def TestOneInput(data):
    network_filter.run(data)


describe = network_filter.describe  # triage shows inputs as the harness reads them


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput, **harness.mutators("network_filter"))
    atheris.Fuzz()
