#!/usr/bin/env python3
"""Raw bytes into h11's server-side parser (test-only harness for the engine's own tests)."""

import sys

import atheris

from fuzz import harness

with harness.instrumented("demo"):
    import h11

MAX_EVENTS = 64


@harness.allow(h11.RemoteProtocolError)
def TestOneInput(data):
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    conn.receive_data(b"")
    budget = harness.Budget(MAX_EVENTS, "h11 event loop")
    while budget.take():
        event = conn.next_event()
        if event in (h11.NEED_DATA, h11.PAUSED) or isinstance(event, h11.ConnectionClosed):
            return


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
