#!/usr/bin/env python3
"""HTTP/2 client and server codecs back to back, driven by Envoy's codec actions (or a raw capture).

An input starting with the client preface is a capture of client bytes, fed to the server codec
in several splits (split invariance). Any other input decodes with atheris.FuzzedDataProvider into
up to 256 actions (new stream, headers, data, trailers, reset, consume, mutate a queued byte, swap
fragments, drain, raw hyperframe frames, HPACK round trip, GOAWAY). Oracles: fuzz/targets/h2pair.py.
"""

import sys

import atheris

from fuzz import harness

with harness.instrumented("h2_codec"):
    from fuzz.targets import h2pair

MAX_LEN = 8192


def TestOneInput(data):
    h2pair.check(harness.capped(data, MAX_LEN))


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput, **harness.mutators("h2_codec"))
    atheris.Fuzz()
