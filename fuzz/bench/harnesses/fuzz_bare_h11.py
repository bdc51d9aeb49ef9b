#!/usr/bin/env python3
"""Baseline for `bench harnesses`: raw bytes into a bare h11 server connection, nothing else."""

import sys

import atheris

from fuzz import harness

with harness.instrumented("h1_server"):
    import h11

MAX_EVENTS = 256


@harness.allow(h11.RemoteProtocolError)
def TestOneInput(data):
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    conn.receive_data(b"")
    for _ in range(MAX_EVENTS):
        event = conn.next_event()
        if event in (h11.NEED_DATA, h11.PAUSED) or isinstance(event, h11.ConnectionClosed):
            return
        if isinstance(event, h11.EndOfMessage) and conn.our_state is h11.SEND_RESPONSE:
            return  # a server would answer here; parsing stops like the codec's does


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
