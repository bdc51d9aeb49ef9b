#!/usr/bin/env python3
"""Configuration loading: raw bytes as YAML, JSON or binary protobuf into load + validate + build.

See fuzz/targets/config.py for the oracles (clean ConfigError or a built config; round trips).
"""

import sys

import atheris

from fuzz import harness

with harness.instrumented("config"):
    from fuzz.targets import config


def TestOneInput(data):
    config.run(data)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput, **harness.mutators("config"))
    atheris.Fuzz()
