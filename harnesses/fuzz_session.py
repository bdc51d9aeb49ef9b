#!/usr/bin/env python3
"""Two-stage sessions: stage-1 configurations from the schema, long in-memory data-plane sessions.

Input: byte 0 picks a built configuration from the pool (corpus/session_configs + examples,
built once and shared), byte 1 the read size, the rest decodes into up to 256 actions.
Every invariant of fuzz/oracles.py is checked after every action.
"""

import sys

import atheris

from fuzz import harness

with harness.instrumented("session"):
    from fuzz import session

POOL = session.ConfigPool.default()


def TestOneInput(data):
    session.run_input(POOL, data)


def describe(data):  # triage shows inputs as the harness reads them
    return session.describe_input(POOL, data)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput, **harness.mutators("session"))
    atheris.Fuzz()
