"""h1_client_garbled_head_awaited: an upstream's response head whose whole lines already break the
grammar is refused by the client codec before the upstream closes, as Envoy's parser refuses such a
line where it ends (found live: a garbled status line from an upstream that stayed open held the
request until the route timeout, a 504 where Envoy answers 503 UPE). The clean codec passes; one
that judges a head only once it is whole (planted by monkeypatch) is caught on the regression seeds."""

from pathlib import Path

import pytest

import proxy.http._h1_strict as strict
from fuzz.oracles import InvariantViolation
from fuzz.targets import h1, reference

SEEDS = sorted(Path(__file__).parents[3].joinpath("corpus", "h1_client").glob("regress-a-garbled-*-stays-open"))
HELD_GARBLED = [
    b"HTTP/1.1 2OO OK\r\n",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n",
    b"HTTP/1.1 200 OK\r\nx: y\r\n folded\r\n",
    b"HTTP/1.1 200 O\x01K\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2000 OK\r\n",
]
HELD_VALID_SO_FAR = [b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nserver: x\r\ncontent-le", b"HTTP/1.1 2"]


def test_the_seeds_are_committed():
    assert len(SEEDS) == 2


@pytest.mark.parametrize("data", HELD_GARBLED)
def test_the_reference_rejects_a_whole_garbled_line_of_an_unfinished_head(data):
    assert reference.unfinished_head_rejected(data, b"GET") is not None


@pytest.mark.parametrize("data", HELD_VALID_SO_FAR + [b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"])
def test_the_reference_rejects_nothing_that_may_still_end_well(data):
    assert reference.unfinished_head_rejected(data, b"GET") is None


@pytest.mark.parametrize("data", HELD_GARBLED + HELD_VALID_SO_FAR + [s.read_bytes() for s in SEEDS])
def test_the_clean_codec_passes(data):
    h1.check_client(data)


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name)
def test_a_codec_judging_only_whole_heads_is_caught(monkeypatch, seed):
    monkeypatch.setattr(strict.ResponseHeadLines, "judge", lambda self, buf: None)
    with pytest.raises(InvariantViolation) as caught:
        h1.check_client(seed.read_bytes())
    assert caught.value.name == "h1_client_garbled_head_awaited"
