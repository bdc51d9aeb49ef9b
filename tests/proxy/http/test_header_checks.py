"""The byte-class checks of proxy/http/headers.py (token, field value, request target): the
bytes fast path (bytes.translate) agrees with the plain definition on every input kind."""

import random

import pytest

from proxy.http.headers import TARGET_BYTES, TCHAR, VALUE_BYTES, is_field_value, is_target, is_token


def _reference(b):
    return (
        bool(b) and all(c in TCHAR for c in b),
        all(c in VALUE_BYTES for c in b),
        bool(b) and all(c in TARGET_BYTES for c in b),
    )


@pytest.mark.parametrize(
    "b, expected",
    [
        (b"", (False, True, False)),
        (b"content-length", (True, True, True)),
        (b"a b", (False, True, False)),
        (b"x\tz", (False, True, False)),
        (b"v\r\n", (False, False, False)),
        (b"nul\x00", (False, False, False)),
        (b"/p?q=1", (False, True, True)),
        (b"caf\xe9", (False, True, False)),
        (b"\x7f", (False, False, False)),
    ],
)
def test_known_cases(b, expected):
    assert (is_token(b), is_field_value(b), is_target(b)) == expected == _reference(b)


def test_fast_path_agrees_with_the_definition_for_bytes_and_bytearray():
    rng = random.Random(3)
    for _ in range(20_000):
        b = bytes(
            rng.randrange(256) if rng.random() < 0.2 else rng.choice(b"aZ09-_ \t:/?") for _ in range(rng.randrange(8))
        )
        for value in (b, bytearray(b)):
            assert (is_token(value), is_field_value(value), is_target(value)) == _reference(b), b
