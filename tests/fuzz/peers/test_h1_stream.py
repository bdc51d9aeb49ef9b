"""HTTP/1.1 response streams of the strict peers (fuzz/peers/h1_stream.py): a response is framed by
the request it answers, also when the client reads it before sending that request's successor."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.peers.h1_stream import ResponseStream
from fuzz.session import Action as A, Session
from proxy.http import h1
from tests.fuzz.peers.test_peers import built

GET_RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc"
HEAD_RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


def test_a_response_to_head_read_after_an_earlier_response_has_no_body():
    stream = ResponseStream()
    stream.expect(b"GET")
    stream.feed(GET_RESPONSE, 1)
    stream.expect(b"HEAD")  # the client sends HEAD only after it read the GET's answer
    stream.feed(HEAD_RESPONSE, 2)
    assert [(m.status, bytes(m.body), m.complete) for m in stream.messages] == [(200, b"abc", True), (200, b"", True)]
    assert stream.error is None


def test_a_response_no_request_asked_for_is_read_as_an_answer_to_get():
    stream = ResponseStream()
    stream.feed(GET_RESPONSE, 1)
    assert [(m.status, bytes(m.body), m.complete) for m in stream.messages] == [(200, b"abc", True)]


# The found case (session, examples/upstream_backpressure.yaml): the client reads the answer to its GET,
# then sends HEAD (there with Connection: close) on the same connection.
def head_after_get(close: bytes = b"Connection: close\r\n"):
    return [
        A("connect"),
        A("send", payload=b"GET / HTTP/1.1\r\nHost: a\r\nX-Fuzz-Id: 0-1\r\n\r\n"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=GET_RESPONSE),
        A("read"),
        A("send", payload=b"HEAD / HTTP/1.1\r\nHost: a\r\nX-Fuzz-Id: 0-2\r\n" + close + b"\r\n"),
        A("upstream_read"),
        A("upstream_send", payload=b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"),
        A("read"),
    ]


@pytest.mark.parametrize("close", [b"Connection: close\r\n", b""])
def test_head_after_a_read_get_response_passes_the_framing_oracles(close):
    s = Session(built()).run(head_after_get(close))
    assert [ex.response.status for ex in s.peers.exchanges] == [200, 200]
    assert [bytes(ex.response.body) for ex in s.peers.exchanges] == [b"abc", b""]


@pytest.mark.parametrize("close", [b"Connection: close\r\n", b""])
def test_planted_last_chunk_after_a_head_response_is_caught(monkeypatch, close):
    """The class the framing oracles are for: a proxy that frames its answer to HEAD as if it
    answered GET (here the last chunk of a chunked body after the head) desynchronises the client."""
    original = h1.H1ServerCodec._response_fields

    def chunked_even_for_head(self, ex, status, fields, end):
        fields = original(self, ex, status, fields, end)
        ex.out_chunked = ex.out_chunked or (b"transfer-encoding", b"chunked") in fields
        return fields

    monkeypatch.setattr(h1.H1ServerCodec, "_response_fields", chunked_even_for_head)
    with pytest.raises(InvariantViolation, match="peer_h1_response_"):
        Session(built()).run(head_after_get(close))
