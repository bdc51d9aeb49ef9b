"""The HTTP/1.1 client codec judges a response head's whole lines as they arrive
(_h1_strict.ResponseHeadLines): a line that breaks the grammar is a protocol error before the head
ends or the upstream closes, in one chunk or byte at a time, and a head valid so far is awaited."""

import pytest

from proxy.http.codec import CodecLimits, ProtocolViolation, ResponseHeaders
from proxy.http.h1 import H1ClientCodec

# Each a head cut short after a line no later byte can mend.
GARBLED_SO_FAR = {
    "status_not_digits": b"HTTP/1.1 2OO OK\r\n",
    "status_four_digits": b"HTTP/1.1 2000 OK\r\n",
    "status_missing": b"HTTP/1.1\r\n",
    "control_in_reason": b"HTTP/1.1 200 O\x01K\r\n",
    "field_without_colon": b"HTTP/1.1 200 OK\r\nserver: x\r\nno colon here\r\n",
    "obs_fold": b"HTTP/1.1 200 OK\r\nserver: x\r\n folded\r\n",
    "space_before_colon": b"HTTP/1.1 200 OK\r\ncontent-length : 1\r\n",
    "nul_in_value": b"HTTP/1.1 200 OK\r\nx: a\x00b\r\n",
    "bare_cr": b"HTTP/1.1 200 OK\r\nx: a\rb\r\n",
    "cl_and_te": b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n",
    "duplicate_cl": b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 1\r\n",
    "te_not_chunked": b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n",
    "garbled_after_interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2OO OK\r\n",
}
VALID_SO_FAR = {
    "status_line": b"HTTP/1.1 200 OK\r\n",
    "no_reason": b"HTTP/1.1 204\r\n",
    "fields": b"HTTP/1.1 200 OK\r\nserver: x\r\ncontent-length: 5\r\n",
    "line_still_arriving": b"HTTP/1.1 200 OK\r\nno colon yet",
    "cr_of_a_line_end": b"HTTP/1.1 200 OK\r\nserver: x\r",
}


def _client() -> H1ClientCodec:
    codec = H1ClientCodec(CodecLimits(max_headers=3))
    codec.send_request_headers(b"GET", b"/", b"upstream", [], end_stream=True)
    codec.data_to_send()
    return codec


def _feed(data: bytes, byte_at_a_time: bool) -> list:
    codec = _client()
    pieces = [data[i : i + 1] for i in range(len(data))] if byte_at_a_time else [data]
    return [ev for piece in pieces for ev in codec.receive_data(piece)]


@pytest.mark.parametrize("byte_at_a_time", [False, True])
@pytest.mark.parametrize("name", GARBLED_SO_FAR)
def test_a_garbled_line_is_refused_before_the_head_ends(name, byte_at_a_time):
    events = _feed(GARBLED_SO_FAR[name], byte_at_a_time)
    assert any(isinstance(ev, ProtocolViolation) for ev in events), events


@pytest.mark.parametrize("byte_at_a_time", [False, True])
@pytest.mark.parametrize("name", VALID_SO_FAR)
def test_a_head_valid_so_far_is_awaited(name, byte_at_a_time):
    assert not any(isinstance(ev, ProtocolViolation) for ev in _feed(VALID_SO_FAR[name], byte_at_a_time))


def test_more_fields_than_the_limit_are_refused_before_the_head_ends():
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"x-%d: v\r\n" % i for i in range(3))
    assert not any(isinstance(ev, ProtocolViolation) for ev in _feed(head, False))
    assert any(isinstance(ev, ProtocolViolation) for ev in _feed(head + b"x-3: v\r\n", False))


def test_a_second_head_on_the_connection_is_judged_from_its_own_start():
    codec = _client()
    events = codec.receive_data(b"HTTP/1.1 200 OK\r\nx-a: 1\r\nx-b: 2\r\ncontent-length: 0\r\n\r\n")
    assert isinstance(events[0], ResponseHeaders)
    codec.send_request_headers(b"GET", b"/", b"upstream", [], end_stream=True)
    events = codec.receive_data(b"HTTP/1.1 200 OK\r\nx-c: 3\r\nx-d: 4\r\n")
    assert not any(isinstance(ev, ProtocolViolation) for ev in events)
