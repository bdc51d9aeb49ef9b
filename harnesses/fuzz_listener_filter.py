#!/usr/bin/env python3
"""Listener filters (tls_inspector, proxy_protocol, http_inspector) on raw bytes in any split.

See fuzz/targets/listener_filter.py for the input layout and the oracles, and the reference
readers fuzz/targets/client_hello_reference.py and proxy_header_reference.py.
"""

import sys

import atheris

from fuzz import harness

with harness.instrumented("listener_filter"):
    from fuzz.targets import listener_filter


def TestOneInput(data):
    listener_filter.run(data)


def describe(data):  # triage shows inputs as the harness reads them
    return listener_filter.describe(data)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput, **harness.mutators("listener_filter"))
    atheris.Fuzz()
