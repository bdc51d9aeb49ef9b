"""The field-count limit (100 fields, Envoy's max_headers_count) from both h1 harnesses: the mutator
makes heads at the limit and one either side of it, and a codec that refuses a head with exactly 100
fields (an off-by-one planted by monkeypatch) breaks h1_valid_request_refused / _response_refused."""

import random

import pytest

import proxy.http._h1_strict as strict
from fuzz.mutators import http1
from fuzz.oracles import InvariantViolation
from fuzz.targets import h1


def head(start: bytes, n: int, body: bytes = b"") -> bytes:
    fields = [b"Host: h"] + [b"x-f%d: v" % i for i in range(n - 1)]
    return start + b"\r\n" + b"\r\n".join(fields) + b"\r\n\r\n" + body


REQUEST = head(b"GET / HTTP/1.1", 100)
RESPONSE = head(b"HTTP/1.1 200 OK", 99).replace(b"\r\n\r\n", b"\r\ncontent-length: 0\r\n\r\n")


def test_the_mutator_pads_heads_to_the_limit_and_either_side():
    counts = set()
    for seed in range(40):
        stream = http1.parse(head(b"GET / HTTP/1.1", 3))
        assert http1.field_count_limit(stream, random.Random(seed))
        counts.add(len(stream.messages[0].fields))
    assert counts == {99, 100, 101}


def test_heads_at_the_limit_pass_both_harnesses():
    h1.check_server(REQUEST)
    h1.check_client(RESPONSE)


@pytest.fixture
def one_short(monkeypatch):
    original = strict._parse_fields

    def parse_fields(lines, max_headers):  # the planted bug: the limit itself is refused
        return original(lines, max_headers - 1)

    monkeypatch.setattr(strict, "_parse_fields", parse_fields)


def test_a_request_at_the_limit_refused_is_caught(one_short):
    with pytest.raises(InvariantViolation, match="h1_valid_request_refused"):
        h1.check_server(REQUEST)


def test_a_response_at_the_limit_refused_is_caught(one_short):
    with pytest.raises(InvariantViolation, match="h1_valid_response_refused"):
        h1.check_client(RESPONSE)


def test_a_head_at_the_limit_that_gains_a_framing_field_is_not_a_roundtrip_mismatch():
    # 100 fields and a body to the close: written again, the server codec adds a framing field (101)
    h1.check_client(head(b"HTTP/1.1 200 OK", 100, b"body to the close"))


def test_a_status_outside_100_599_may_be_refused():
    h1.check_client(b"HTTP/1.1 000 OK\r\ncontent-length: 0\r\n\r\n")  # RFC 9110 15: invalid, read as a 5xx
