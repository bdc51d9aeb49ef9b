"""http_translate's mutator (fuzz/mutators/translate.py) from an empty corpus: its first input grows
HTTP/2 captures as well as HTTP/1.1 messages, and their trailer sections sometimes carry a lowercase
name that is no token (fuzz/mutators/http2.py new_capture), so a server codec that stops checking
trailer names (bench/bugs/h2-trailer-name-not-validated, issue 13 defect 10) is found by mutation."""

import random

import pytest

from fuzz.mutators import translate as mutator
from fuzz.oracles import InvariantViolation
from fuzz.targets import translate
from proxy.http import h2, headers


def _run(n: int) -> None:
    m, rng, corpus = mutator.Translate(), random.Random(0), [b""]
    for i in range(n):
        data = m.mutate(rng.choice(corpus), 8192, i)
        translate.check(data)
        if rng.random() < 0.1:
            corpus.append(data)


def test_an_empty_corpus_grows_both_modes():
    m = mutator.Translate()
    h2_share = sum(m.mutate(b"", 8192, i).startswith(b"PRI") for i in range(100))
    assert 25 <= h2_share <= 75  # the old mutator: its 5% mode switch alone


def test_mutations_from_an_empty_corpus_run_clean():
    _run(300)


def test_a_trailer_name_that_is_no_token_is_found_from_an_empty_corpus(monkeypatch):
    checked = headers.trailer_problem

    def names_unchecked(fields):  # the planted bug: a trailer name is not held to the token rule
        return checked([(name if headers.is_token(name) else b"x", value) for name, value in fields])

    monkeypatch.setattr(h2, "trailer_problem", names_unchecked)
    with pytest.raises(InvariantViolation, match="translate_unforwardable"):
        _run(1500)
