"""proxy/linear_regex.py, the admin's /stats?filter= matcher: RE2's syntax and meaning, in linear
time. Python's `re` is the reference where the two syntaxes agree (ASCII classes, texts without a
newline, none empty: there `re` and RE2 differ on `$` and `\\B`)."""

import re

import pytest

from proxy.linear_regex import MAX_PROGRAM, RegexError, compile_linear

NAMES = [
    "listener.listener_0.downstream_cx_total",
    "http.in.downstream_rq_2xx",
    "cluster.web.upstream_rq_200",
    "server.buffered_bytes",
    "tcp_proxy.upstream_cx_total",
    "a",
    "x_y.z9",
    "aab",
    "ab ab",
    "to_tal",
]

AGREED = [
    "rq_",
    "^server\\.buffered_bytes$",
    "^buffered",
    "total$",
    "",
    ".",
    "a|b",
    "^(a|)b",
    "(?:ab)+",
    "(?P<n>rq)_2",
    "[a-c]{2}",
    "[^a-z._]",
    "[.-]",
    "[-a]b",
    "[\\d.]+x",
    "[]a]",
    "\\d{3}$",
    "\\w+\\.\\w+",
    "\\W",
    "\\s",
    "\\S+",
    "\\D\\d",
    "\\bcx\\b",
    "\\Bx",
    "_rq_\\b",
    "a*?b",
    "a{0,}b",
    "a{1,3}b",
    "a{2}",
    "a{",
    "\\x61b",
    "^\\.?s",
    "(a|ab)(c|bcd)(d*)",
    "^(\\w|\\.)*$",
]


@pytest.mark.parametrize("pattern", AGREED)
def test_matches_as_re_where_the_syntaxes_agree(pattern):
    ours, ref = compile_linear(pattern), re.compile(pattern, re.ASCII)
    assert [ours.search(n) for n in NAMES] == [ref.search(n) is not None for n in NAMES]


def test_re2_meanings():
    assert compile_linear("\\x{62}").search("ab")  # RE2's braced hex escape
    assert not compile_linear("a$").search("a\n")  # RE2: $ is the end of the text only
    assert compile_linear("x{,2}").search("x{,2}")  # RE2: no repetition, literal braces
    assert compile_linear("\\B").search("")  # RE2: no boundary in an empty text
    assert compile_linear("\\A\\.\\z").search(".") and not compile_linear("\\Aa").search("ba")
    assert not compile_linear(".").search("\n")
    assert compile_linear("(?<n>x)_").search("x_y.z9")  # RE2's other spelling of a named group


@pytest.mark.parametrize(
    "pattern, says",
    [
        ("(a)\\1", "no backreferences"),
        ("(?=a)", "no lookaround"),
        ("(?<!a)b", "no lookaround"),
        ("(?i)a", "no lookaround or flags"),
        ("(unclosed", "missing )"),
        ("a)", "unexpected )"),
        ("[a", "missing ]"),
        ("[z-a]", "bad character class range"),
        ("*a", "missing argument to repetition operator"),
        ("a**", "bad repetition operator"),
        ("a{1001}", "bad repetition"),
        ("a{3,2}", "bad repetition"),
        ("a{99999999999}", "bad repetition"),
        ("(a{1000}){1000}", "pattern too large"),
        ("(" * 300 + ")" * 300, "nested deeper"),
        ("\\", "trailing"),
        ("\\xZZ", "invalid \\x escape"),
        ("[[:alpha:]]", "POSIX classes"),
        ("\\pL", "unsupported escape"),
    ],
)
def test_what_it_does_not_take_is_named(pattern, says):
    with pytest.raises(RegexError, match=re.escape(says)):
        compile_linear(pattern)


def test_nested_repeats_cost_one_pass_per_name():
    """`re` spends hours on this pattern over a stat name of 40 characters (the admin's loop
    stopped with it, and the data plane with the loop); here it is one pass per character over a
    program of a few instructions, whatever the name."""
    pattern = compile_linear("^([a-z_.0-9]+)+[^a-z_.0-9]")
    assert len(pattern._program) < 20 < MAX_PROGRAM
    assert not any(pattern.search(name * 50) for name in NAMES[:5])
    assert pattern.search("listener.listener_0.downstream_cx_total!")
