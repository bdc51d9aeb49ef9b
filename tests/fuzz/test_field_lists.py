"""fuzz/field_lists.py: the one reading of HTTP list-valued fields every oracle uses (RFC 9110 5.6.1
with 5.6.4's quoted-string), and the oracles that read lists through it."""

from types import SimpleNamespace

import pytest

from fuzz.field_lists import connection_options, field_members, list_members
from fuzz.oracles import InvariantViolation
import fuzz.peers.judge as judge
from fuzz.targets import reference


@pytest.mark.parametrize(
    "value, members",
    [
        (b"a,b", [b"a", b"b"]),
        (b" a ,\tb\t", [b"a", b"b"]),  # OWS is SP and HTAB around each member
        (b"a,,b,", [b"a", b"b"]),  # empty members are ignored (5.6.1)
        (b", ,\t,", []),
        (b"", []),
        (b"Gzip, Trailers", [b"Gzip", b"Trailers"]),  # case is the caller's business
        (b'foo;p="a, trailers", b', [b'foo;p="a, trailers"', b"b"]),  # a comma inside quotes separates nothing
        (b'x;p="a\\", trailers", y', [b'x;p="a\\", trailers"', b"y"]),  # quoted-pair: \" stays inside
        (b'x;p="a\\\\", trailers', [b'x;p="a\\\\"', b"trailers"]),  # an escaped backslash, then the quote closes
        (b'x;p="open, trailers', [b'x;p="open, trailers']),  # left open: runs to the end
        (b'x;p="a\\', [b'x;p="a\\']),  # a backslash as the last byte
        (b'"a","b"', [b'"a"', b'"b"']),
    ],
)
def test_list_members(value, members):
    assert list_members(value) == members
    assert list_members(value.decode("latin-1")) == [m.decode("latin-1") for m in members]


def test_token_lists_split_at_every_comma():
    """Connection's members are tokens (7.6.1): a DQUOTE there quotes nothing, as h11 reads it."""
    assert list_members(b'x"a, close, b"', quoted_strings=False) == [b'x"a', b"close", b'b"']
    assert connection_options([(b"Connection", b'x"a, Close'), (b"connection", b"TE,,")]) == {b'x"a', b"close", b"te"}
    assert connection_options([("Connection", "keep-alive, X-Foo")]) == {"keep-alive", "x-foo"}
    assert connection_options([]) == set()


def test_field_members_reads_every_line_of_the_name_in_order():
    fields = [(b"TE", b"gzip"), (b"accept", b"x"), (b"te", b"Trailers, deflate;q=0.5")]
    assert field_members(fields, b"te") == [b"gzip", b"trailers", b"deflate;q=0.5"]


@pytest.mark.parametrize(
    "te, meaning",
    [
        (b'foo;p="a, trailers, b"', []),  # `trailers` inside a quoted parameter is no member
        (b'foo;p="a,b", trailers', [(b"te", b"trailers")]),
    ],
)
def test_the_reference_reads_te_parameters_as_quoted(te, meaning):
    assert reference.meaning_fields([(b"te", te)]) == meaning


def _te_judged(sent_te: bytes, forwarded: list) -> None:
    sent = SimpleNamespace(headers=[(b"te", sent_te)])
    got = SimpleNamespace(headers=forwarded)
    judge._te_follows_the_client("test", sent, got, "h1")


def test_te_forwarded_for_a_quoted_trailers_is_caught():
    """A proxy splitting TE at every comma would ask for trailers the client never took."""
    with pytest.raises(InvariantViolation, match="peer_forwarded_te"):
        _te_judged(b'foo;p="a, trailers, b"', [(b"te", b"trailers"), (b"connection", b"te")])
    _te_judged(b'foo;p="a, trailers, b"', [])
    _te_judged(b'foo;p="a,b", Trailers', [(b"te", b"trailers"), (b"Connection", b"keep-alive, TE")])
