"""HTTP list-valued fields, read the one way every oracle reads them (RFC 9110 5.6.1, the #rule).

A field line holding a list is its members separated by commas, each with optional whitespace
(OWS: SP and HTAB only, 5.6.3) around it; empty members are ignored ("a recipient MUST parse and
ignore a reasonable number of empty list elements"). Where a member's grammar allows a
quoted-string (5.6.4: TE's transfer-parameters, 10.1.4), a comma inside the quotes separates
nothing, and a backslash quotes the next character; a quoted-string left open runs to the end.
Connection's members are tokens (7.6.1), where a DQUOTE quotes nothing: they are split at every
comma, as h11 and Envoy read them.

Written from the RFC for the oracles; it shares no code with proxy/ (an oracle reusing the code
under test judges nothing). Works on bytes and on str alike.
"""

from collections.abc import Iterable
from typing import AnyStr


def list_members(value: AnyStr, *, quoted_strings: bool = True) -> list[AnyStr]:
    """The members of one field line's value, OWS trimmed, empty members dropped, case kept."""
    comma, quote, escape, ows = (b",", b'"', b"\\", b" \t") if isinstance(value, bytes) else (",", '"', "\\", " \t")
    pieces = _split(value, comma, quote, escape) if quoted_strings and quote in value else value.split(comma)
    return [m for m in (piece.strip(ows) for piece in pieces) if m]


def _split(value: AnyStr, comma: AnyStr, quote: AnyStr, escape: AnyStr) -> list[AnyStr]:
    pieces, start, i, inside = [], 0, 0, False
    while i < len(value):
        char = value[i : i + 1]
        if inside and char == escape:
            i += 2  # quoted-pair: the next character is data, a DQUOTE or a comma included
            continue
        if char == quote:
            inside = not inside
        elif char == comma and not inside:
            pieces.append(value[start:i])
            start = i + 1
        i += 1
    pieces.append(value[start:])
    return pieces


def field_members(fields: Iterable, name: AnyStr, *, quoted_strings: bool = True) -> list[AnyStr]:
    """The members of every line named `name` (any case), in order, lowercased: for lists whose
    members are case-insensitive (tokens, codings)."""
    return [m.lower() for n, v in fields if n.lower() == name for m in list_members(v, quoted_strings=quoted_strings)]


def connection_options(fields: Iterable) -> set:
    """The lowercased options of every Connection line (RFC 9110 7.6.1: tokens, not quoted)."""
    fields = list(fields)
    if fields and isinstance(fields[0][0], str):
        return set(field_members(fields, "connection", quoted_strings=False))
    return set(field_members(fields, b"connection", quoted_strings=False))
