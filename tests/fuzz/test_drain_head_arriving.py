"""drain_closed_request_in_flight covers a request whose head is still arriving: Envoy's HTTP/1 stream
exists from a request's first byte, so a drain answers it (connection: close) rather than closing
the connection under a client that sent half its head. Shown on the real proxy and on the mutant of
H1ServerCodec.goaway that survived every corpus in bench mutants (proxy/http/h1.py, seed 14): the
drain dropping a half-read head, planted with fuzz.bench.mutants.ops."""

from pathlib import Path

import pytest

import proxy.http.h1 as h1_codec
from fuzz.bench.mutants import ops
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from fuzz.test_pki import load_config
from proxy.build import build

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "corpus" / "session").glob("http-drain_while_a_head_arrives-*"))
HALF_A_HEAD = [
    A("connect"),
    A("send", 0, payload=b"GET / HTTP/1.1\r\nHo"),
    A("drain"),
    A("send", 0, payload=b"st: a\r\n\r\n"),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_http", value=0, payload=b"\x00\x10\x00\x00hello world"),
    A("read", 0),
]


def run():
    return Session(build(load_config(ROOT / "examples" / "http.yaml")), models=True).run(HALF_A_HEAD)


def test_a_request_half_read_when_the_drain_begins_is_answered_and_closed():
    received = bytes(run().downstream[0].received)
    assert received.startswith(b"HTTP/1.1 200 ") and b"connection: close" in received


def test_the_seed_is_committed():
    assert len(SEEDS) == 1


def test_a_drain_dropping_a_half_read_head_is_found(monkeypatch):
    before = "self._reading is None and (not head_pending)"
    monkeypatch.setattr(
        h1_codec.H1ServerCodec.goaway, "__code__", ops.planted(h1_codec, "H1ServerCodec.goaway", before)
    )
    with pytest.raises(InvariantViolation) as caught:
        run()
    assert caught.value.name == "drain_closed_request_in_flight", str(caught.value)
