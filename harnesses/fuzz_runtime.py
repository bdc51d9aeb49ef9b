#!/usr/bin/env python3
"""The asyncio runtime (Server, socket transports, admin) over a simulated kernel, against the in-memory network.

See fuzz/targets/runtime.py for the input layout and the oracles, fuzz/targets/runtime_kernel.py
for the kernel under asyncio's own loop, and fuzz/targets/runtime_admin.py for the admin client.
"""

import sys

import atheris

from fuzz import harness

with harness.instrumented("runtime"):
    from fuzz.targets import runtime


def TestOneInput(data):
    runtime.run(data)


describe = runtime.describe  # triage shows inputs as the harness reads them


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput, **harness.mutators("runtime"))
    atheris.Fuzz()
