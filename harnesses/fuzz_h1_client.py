#!/usr/bin/env python3
"""Raw bytes into the HTTP/1.1 client codec as the response to a GET and to a HEAD request.

Oracles (fuzz/targets/h1.py): nothing but ProtocolViolation events may come out of bad input; one
chunk, byte at a time and an input-chosen split agree; every response the codec accepts is one RFC
9112's strict grammar accepts with the same meaning (fuzz/targets/reference.py); an accepted
response re-serialised by the server codec parses back to the same response; a head whose whole
lines the grammar already rejects is refused before the upstream closes.
"""

import sys

import atheris

from fuzz import harness

with harness.instrumented("h1_client"):
    from fuzz.targets import h1

MAX_LEN = 4096


def TestOneInput(data):
    h1.check_client(harness.capped(data, MAX_LEN))


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput, **harness.mutators("h1_client"))
    atheris.Fuzz()
