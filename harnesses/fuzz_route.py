#!/usr/bin/env python3
"""Route tables: a configuration and a request; the chosen route must equal a reference matcher's.

See fuzz/targets/route.py for the input layout, the draws and the oracles, and
fuzz/targets/route_reference.py for the reference.
"""

import sys

import atheris

from fuzz import harness

with harness.instrumented("route"):
    from fuzz.targets import route


def TestOneInput(data):
    route.run(data)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
