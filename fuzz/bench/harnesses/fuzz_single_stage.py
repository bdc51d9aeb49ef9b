#!/usr/bin/env python3
"""Single-stage baseline for the two-stage bench: configuration and actions in one raw blob.

Bytes 0-1 give the configuration's length L; the next L bytes are loaded as a configuration
(YAML, JSON or binary protobuf: parse + validate + build on every input), the rest decode
into session actions. Invalid configurations return early, as in Envoy's single-stage fuzzers.
"""

import sys

import atheris

from fuzz import harness

with harness.instrumented("session"):
    from fuzz import session
    from proxy.build import BuildError, build
    from proxy.config import ConfigError, load_bytes


def TestOneInput(data):
    length = int.from_bytes(data[:2], "big")
    try:
        built = build(load_bytes(data[2 : 2 + length]))
    except (ConfigError, BuildError):
        return
    reader = session.Reader(data[2 + length :])
    read_size = session.READ_SIZES[reader.int(1, len(session.READ_SIZES))]
    session.Session(built, read_size=read_size).run(session.decode_actions(reader))


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
