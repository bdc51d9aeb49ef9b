"""fuzz/payloads.py's templates of peers that are not today's HTTP/1.1: an HTTP/1.0 client
(h1_request_http10), an upstream whose body runs to its close (h1_response_until_close) and a client
that stops part way (h1_request_cut), so that sessions from an empty corpus make the shapes HTTP/1.0
handling, close-delimited framing (RFC 9112 6.1, 6.3) and request timeouts go wrong on."""

import random
from dataclasses import replace

import pytest

from fuzz import payloads
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from tests.fuzz.test_delivery import plant_close_read_as_a_reset
from tests.fuzz.test_liveness import http

HTTP10 = payloads.DOWNSTREAM_PAYLOADS.index(payloads.h1_request_http10)
UNTIL_CLOSE = payloads.UPSTREAM_PAYLOADS.index(payloads.h1_response_until_close)


class _Sock:  # a peer outside a session: no ids, no route targets
    pass


def _seeds(n=300):
    rng = random.Random(7)
    return [rng.randbytes(rng.randrange(12)) for _ in range(n)]


def test_http10_requests_say_http10_and_frame_a_body_by_its_length():
    for seed in _seeds():
        head, _, body = payloads.h1_request_http10(seed, _Sock()).partition(b"\r\n\r\n")
        assert head.split(b"\r\n")[0].endswith(b" HTTP/1.0")
        assert b"transfer-encoding" not in head.lower()
        assert not body or b"Content-Length: %d" % len(body) in head


def test_responses_until_close_carry_no_length():
    for seed in _seeds():
        head = payloads.h1_response_until_close(seed, _Sock()).partition(b"\r\n\r\n")[0].lower()
        assert head.startswith((b"http/1.0 ", b"http/1.1 "))
        assert b"content-length" not in head and b"transfer-encoding" not in head


def script(close: bool, request: int = HTTP10):
    return [
        A("connect"),
        A("send_http", value=request, payload=b"\x00"),  # GET, no body
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_http", value=UNTIL_CLOSE, payload=b"\x00\x05\x01\x00hello", end_stream=close),
        A("read"),
    ]


def test_an_http10_client_gets_a_body_that_ran_to_the_close():
    s = Session(http(limit=1 << 20, codec="AUTO")).run(script(close=True))
    [ex] = s.peers.exchanges
    assert ex.upstreams and ex.upstreams[0].response.complete


def test_a_close_read_as_a_reset_is_caught_on_the_template(monkeypatch):
    """An HTTP/1.1 client sees the difference (the proxy frames the body, chunked, and must end it);
    an HTTP/1.0 client's body also ends at a close, so a reset there looks the same to it."""
    h1_request = payloads.DOWNSTREAM_PAYLOADS.index(payloads.h1_request)
    plant_close_read_as_a_reset(monkeypatch)
    with pytest.raises(InvariantViolation, match="response_lost"):
        Session(http(limit=1 << 20, codec="AUTO")).run(script(close=True, request=h1_request))


def test_a_chunked_answer_to_the_http10_template_is_caught(monkeypatch):
    from proxy.http import h1

    original = h1.H1ServerCodec._response_fields

    def as_http11(self, ex, status, fields, end):  # the planted bug: an HTTP/1.0 client framed as 1.1
        version, ex.version = ex.version, b"1.1"
        try:
            return original(self, ex, status, fields, end)
        finally:
            ex.version = version

    chunked = replace(script(close=False)[4], value=0)  # h1_response, a chunked body (byte 2 bit 0)
    actions = script(close=False)[:4] + [chunked, A("read")]
    Session(http(limit=1 << 20, codec="AUTO")).run(actions)
    monkeypatch.setattr(h1.H1ServerCodec, "_response_fields", as_http11)
    with pytest.raises(InvariantViolation, match="RFC 9112 6.1"):
        Session(http(limit=1 << 20, codec="AUTO")).run(actions)


CUT = payloads.DOWNSTREAM_PAYLOADS.index(payloads.h1_request_cut)


def test_a_request_sent_in_pieces_is_the_whole_request_in_order():
    seeds = _seeds()
    for first in seeds:
        whole, sock = payloads.h1_request(first[1:], _Sock()), _Sock()
        sent = payloads.h1_request_cut(first, sock)
        assert sent and whole.startswith(sent)
        for later in seeds[:64]:
            if len(sent) == len(whole):
                break
            sent += payloads.h1_request_cut(later, sock)
        assert whole.startswith(sent)
    piece = bytes([0x40])
    sock = _Sock()
    pieces = [payloads.h1_request_cut(piece + b"\x00\x00\x00", sock) for _ in range(40)]
    assert b"".join(pieces).startswith(payloads.h1_request(b"\x00\x00\x00", _Sock()) + b"GET")  # then the next


def test_a_head_cut_short_nothing_times_out_is_found(monkeypatch):
    from proxy.config import defaults

    slowloris = [A("connect"), A("send_http", value=CUT, payload=b"\x80\x00\x00\x00")]  # GET / HTTP/1.1\r\nHos
    s = Session(http()).run(slowloris)  # the documented 5 min default ends it
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 408 ")
    monkeypatch.setitem(defaults.DEFAULTS, "proxyfuzz.config.HttpConnectionManager.stream_idle_timeout_ms", 0)
    with pytest.raises(InvariantViolation, match="request_head_not_timed_out"):
        Session(http()).run(slowloris)
