#!/usr/bin/env python3
"""Every registered HTTP filter: a fuzzed config plus one stream's actions (Envoy's uber HTTP filter fuzzer).

See fuzz/targets/http_filter.py for the input layout, the scripted filter and the oracles.
"""

import sys

import atheris

from fuzz import harness

with harness.instrumented("http_filter"):
    from fuzz.targets import http_filter


def TestOneInput(data):
    http_filter.run(data)


describe = http_filter.describe  # triage shows inputs as the harness reads them


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput, **harness.mutators("http_filter"))
    atheris.Fuzz()
