#!/usr/bin/env python3
"""Requests through the translation path (h2 -> h1, h1 -> h2, h1 -> h1), re-parsed upstream by h11, the stdlib and h2.

Downstream bytes go into a server codec; every request it accepted whole is forwarded through a
client codec of the other (or same) protocol, and the upstream bytes must mean the same requests,
as many of them, to independent parsers. Input modes and oracles: fuzz/targets/translate.py.
"""

import sys

import atheris

from fuzz import harness

with harness.instrumented("http_translate"):
    from fuzz.targets import translate

MAX_LEN = 8192


def TestOneInput(data):
    translate.check(harness.capped(data, MAX_LEN))


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput, **harness.mutators("http_translate"))
    atheris.Fuzz()
