#!/usr/bin/env python3
"""Raw bytes into the HTTP/1.1 server codec: split invariance, strict-grammar reference, round trip.

The input is what a client sends on one connection (pipelined requests, then EOF). Oracles
(fuzz/targets/h1.py): nothing but ProtocolViolation events may come out of bad input; one chunk, byte
at a time and an input-chosen split agree; every request the codec accepts is one RFC 9112's strict
grammar accepts with the same meaning (fuzz/targets/reference.py), and a plain valid request is not
refused; an accepted request re-serialised by the client codec parses back to the same request.
"""

import sys

import atheris

from fuzz import harness

with harness.instrumented("h1_server"):
    from fuzz.targets import h1

MAX_LEN = 4096


def TestOneInput(data):
    h1.check_server(harness.capped(data, MAX_LEN))


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput, **harness.mutators("h1_server"))
    atheris.Fuzz()
