"""_parse_fields judges the common field line with one regex: it must accept exactly what the
per-line checks accept, with the same name and value, and leave every refusal to those checks."""

import random
import re

from proxy.http import _h1_strict
from proxy.http._h1_strict import FramingError, _parse_fields

ALPHABET = b'aZ09-_:; \t\r\x00\x7f\x80\xff"(),/=@[]{}'


def _lines() -> list[bytes]:
    rng = random.Random(14)
    drawn = [bytes(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 12))) for _ in range(3000)]
    return drawn + [b"Host: a", b"x:", b"x: \t", b" x: y", b"x : y", b":y", b"x:\ty\t", b"X-A: \x80\xff", b"x: y\x7f"]


def _by_checks(line: bytes, monkeypatch) -> object:
    with monkeypatch.context() as m:
        m.setattr(_h1_strict, "_VALID_FIELD_LINE", re.compile(rb"(?!)"))
        try:
            return _parse_fields([line], 100)
        except FramingError as e:
            return e.reason


def test_a_plain_line_takes_the_fast_path():
    assert _h1_strict._VALID_FIELD_LINE.match(b"Host: a") is not None


def test_the_fast_path_agrees_with_the_checks(monkeypatch):
    for line in _lines():
        try:
            fast: object = _parse_fields([line], 100)
        except FramingError as e:
            fast = e.reason
        assert fast == _by_checks(line, monkeypatch), line
