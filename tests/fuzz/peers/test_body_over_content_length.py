"""The forwarding judge (fuzz/peers/judge.py) and a client body longer than its content-length: the
request is malformed (RFC 9113 8.1.1), the proxy resets it on the excess byte after forwarding what it
had read; the upstream's complete request of content-length bytes is no changed body. Found by a
network_filter run (examples/http_features.yaml over HTTP/2: content-length 16384, then 'tail').
A body changed within its content-length is still caught."""

from pathlib import Path

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.peers.forwarding_model import NO_REWRITES
from fuzz.peers.judge import check_meaning_of
from fuzz.peers.record import Message

SEED = Path(__file__).resolve().parents[3] / "corpus" / "session" / "regress-h2-body-over-its-content-length-reset"


def request(body: bytes, length: int) -> Message:
    return Message(
        method=b"POST",
        target=b"/",
        authority=b"a.example",
        scheme=b"http",
        headers=[(b"content-length", b"%d" % length)],
        body=bytearray(body),
        complete=True,
    )


def test_the_declared_length_forwarded_of_an_overrun_body_is_no_change():
    check_meaning_of(request(b"x" * 20, 16), request(b"x" * 16, 16), NO_REWRITES, "here")


def test_a_body_changed_within_its_content_length_is_caught():
    with pytest.raises(InvariantViolation, match="peer_forwarded_body_changed"):
        check_meaning_of(request(b"x" * 16, 16), request(b"x" * 15 + b"y", 16), NO_REWRITES, "here")
    with pytest.raises(InvariantViolation, match="peer_forwarded_body_changed"):
        check_meaning_of(request(b"x" * 20, 16), request(b"x" * 15 + b"y", 16), NO_REWRITES, "here")


def test_the_regression_session_replays_clean():
    from fuzz.session import ConfigPool, run_input

    run_input(ConfigPool.default(), SEED.read_bytes())
