"""HTTP/1.1 server codec, as scripts of the exchange: bytes in, events out, bytes out."""

import pytest

from proxy.http.codec import (
    CodecLimits,
    CodecUsageError,
    ConnectionClosed,
    Data,
    ProtocolViolation,
    RequestHeaders,
    StreamReset,
    Trailers,
)
from proxy.http.h1 import H1ServerCodec

GET = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"


def kinds(events):
    return [type(e).__name__ for e in events]


def test_simple_get_and_keepalive():
    s = H1ServerCodec()
    [req] = s.receive_data(GET)
    assert req == RequestHeaders(1, b"GET", b"/a", b"x", b"http", [], end_stream=True)
    s.send_headers(1, 200, [(b"content-length", b"2")])
    s.send_data(1, b"ok", end_stream=True)
    assert s.data_to_send() == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    assert not s.wants_close
    [req2] = s.receive_data(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
    assert req2.stream_id == 2 and req2.target == b"/b"


def test_chunked_request_with_trailers():
    s = H1ServerCodec()
    events = s.receive_data(
        b"POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 9\r\n\r\n"
    )
    assert kinds(events) == ["RequestHeaders", "Data", "Trailers"]
    assert events[0].headers == [] and not events[0].end_stream  # transfer-encoding is the codec's business
    assert events[1].data == b"abcde"
    assert events[2] == Trailers(1, [(b"x-sum", b"9")])


def test_response_without_length_is_chunked_and_carries_trailers():
    s = H1ServerCodec()
    s.receive_data(GET)
    s.send_headers(1, 200, [(b"Transfer-Encoding", b"gzip"), (b"Connection", b"x-hop"), (b"x-hop", b"1")])
    s.send_data(1, b"hi")
    s.send_trailers(1, [(b"x-t", b"1")])
    assert s.data_to_send() == b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nx-t: 1\r\n\r\n"


def test_pipelined_responses_go_out_in_request_order():
    s = H1ServerCodec()
    events = s.receive_data(GET + b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n" + b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
    assert [e.stream_id for e in events] == [1, 2, 3]
    s.send_headers(3, 200, [(b"content-length", b"1")])
    s.send_data(3, b"3", end_stream=True)
    s.send_headers(2, 200, [(b"content-length", b"1")], end_stream=False)
    assert s.data_to_send() == b""  # 2 and 3 wait for 1
    s.send_headers(1, 200, [(b"content-length", b"1")])
    assert s.data_to_send() == b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n"
    s.send_data(1, b"1", end_stream=True)
    assert s.data_to_send() == b"1HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n"  # 1 done, 2 started
    s.send_data(2, b"2", end_stream=True)
    assert s.data_to_send() == b"2HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n3"


def test_parse_ahead_is_bounded_and_resumes_when_a_response_completes():
    s = H1ServerCodec(CodecLimits(max_pipelined_requests=1))
    events = s.receive_data(GET + GET)
    assert [e.stream_id for e in events] == [1]
    assert s.pending_events() == []
    s.send_headers(1, 204, [], end_stream=True)
    [later] = s.pending_events()
    assert later.stream_id == 2


def test_expect_100_continue():
    s = H1ServerCodec()
    [req] = s.receive_data(b"PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    assert req.expect_continue and all(n != b"expect" for n, _ in req.headers)
    s.send_headers(1, 100, [])
    assert s.data_to_send() == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert s.receive_data(b"data") == [Data(1, b"data", True)]
    s.send_headers(1, 201, [], end_stream=True)
    assert s.data_to_send() == b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n"
    assert not s.wants_close


def test_early_response_closes_the_connection():
    s = H1ServerCodec()
    s.receive_data(b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")
    s.send_headers(1, 413, [], end_stream=True)
    assert (
        s.data_to_send() == b"HTTP/1.1 413 Request Entity Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
    assert s.wants_close
    assert s.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == []  # the rest is never parsed


def test_head_response_has_no_body_and_connection_close_is_honoured():
    s = H1ServerCodec()
    s.receive_data(b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + GET)
    s.send_headers(1, 200, [(b"content-length", b"5")])
    s.send_data(1, b"", end_stream=True)
    assert s.data_to_send() == b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\n"
    assert s.wants_close


def test_http10_gets_a_close_delimited_response():
    s = H1ServerCodec()
    [req] = s.receive_data(b"GET / HTTP/1.0\r\n\r\n")
    assert req.http_version == b"1.0" and req.authority == b""
    s.send_headers(1, 200, [])
    s.send_data(1, b"abc", end_stream=True)
    assert s.data_to_send() == b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nabc"
    assert s.wants_close


def test_absolute_form_target_gives_authority_and_path():
    s = H1ServerCodec()
    [req] = s.receive_data(b"GET http://example.com:8080/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n")
    assert (req.authority, req.target) == (b"example.com:8080", b"/p?q=1")


def test_eof_mid_body_resets_the_stream():
    s = H1ServerCodec()
    s.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nab")
    events = s.receive_data(b"")
    assert kinds(events) == ["StreamReset", "ConnectionClosed"]
    assert events[0].stream_id == 1


def test_bad_body_after_the_request_was_emitted_answers_400_for_that_stream():
    s = H1ServerCodec()
    events = s.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n")
    assert kinds(events) == ["RequestHeaders", "ProtocolViolation"]
    assert events[1].stream_id == 1 and events[1].status == 400
    s.send_headers(1, 200, [], end_stream=True)  # too late: ignored, the codec answered
    assert s.data_to_send() == b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    assert s.wants_close


def test_error_response_waits_for_earlier_pipelined_responses():
    s = H1ServerCodec()
    events = s.receive_data(GET + b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n")
    assert kinds(events) == ["RequestHeaders", "ProtocolViolation"]
    assert s.data_to_send() == b""
    s.send_headers(1, 200, [(b"content-length", b"0")], end_stream=True)
    out = s.data_to_send()
    assert out == (
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
    assert s.wants_close


def test_usage_errors_are_caller_bugs():
    s = H1ServerCodec()
    s.receive_data(GET)
    with pytest.raises(CodecUsageError):
        s.send_data(1, b"x")  # before headers
    with pytest.raises(CodecUsageError):
        s.send_headers(7, 200, [])
    s.send_headers(1, 200, [(b"content-length", b"1")])
    with pytest.raises(CodecUsageError):
        s.send_data(1, b"too long", end_stream=True)
    with pytest.raises(CodecUsageError):
        s.send_headers(1, 200, [])


def test_reset_by_owner_closes_the_connection():
    s = H1ServerCodec()
    s.receive_data(GET)
    s.send_headers(1, 200, [])
    s.send_data(1, b"part")
    s.reset_stream(1)
    assert s.wants_close
    assert s.close_cuts_response  # the owner must not certify this end (no TLS close_notify)


def test_a_response_sent_whole_does_not_close_as_cut():
    s = H1ServerCodec()
    s.receive_data(b"GET /a HTTP/1.0\r\nHost: x\r\n\r\n")
    s.send_headers(1, 200, [])
    s.send_data(1, b"whole", end_stream=True)
    assert s.wants_close and not s.close_cuts_response  # framed by the close: its close_notify ends it


def test_goaway_finishes_the_stream_in_flight_with_connection_close():
    s = H1ServerCodec()
    s.receive_data(GET)
    s.goaway()
    assert s.receive_data(GET) == []
    s.send_headers(1, 200, [], end_stream=True)
    assert b"connection: close" in s.data_to_send()
    assert s.wants_close


def test_goaway_reads_and_answers_a_request_whose_head_is_still_arriving():
    """Envoy's HTTP/1 stream exists from the request's first byte, so a drain lets it finish: the
    codec dropped the half head and closed under the client, which got no answer."""
    s = H1ServerCodec()
    assert s.receive_data(GET[:20]) == []
    s.goaway()
    assert not s.wants_close
    [req] = s.receive_data(GET[20:] + GET)  # nothing after the drained request is read
    assert isinstance(req, RequestHeaders) and req.stream_id == 1
    s.send_headers(1, 200, [], end_stream=True)
    assert b"connection: close" in s.data_to_send()
    assert s.wants_close


def test_goaway_with_a_head_arriving_behind_a_pipelined_request_answers_both():
    s = H1ServerCodec()
    s.receive_data(GET + GET[:20])
    s.goaway()
    s.send_headers(1, 200, [], end_stream=True)
    assert b"connection: close" not in s.data_to_send() and not s.wants_close
    [req] = s.receive_data(GET[20:])
    s.send_headers(req.stream_id, 200, [], end_stream=True)
    assert b"connection: close" in s.data_to_send() and s.wants_close


def test_eof_when_idle():
    s = H1ServerCodec()
    assert s.receive_data(b"") == [ConnectionClosed("peer closed")]
    assert s.wants_close
    assert s.receive_data(b"") == []


def test_no_stream_reset_on_clean_eof_after_request():
    s = H1ServerCodec()
    s.receive_data(GET)
    events = s.receive_data(b"")
    assert kinds(events) == ["ConnectionClosed"] and not any(isinstance(e, StreamReset) for e in events)
    s.send_headers(1, 200, [], end_stream=True)  # half-closed peer still gets its answer
    assert s.data_to_send().startswith(b"HTTP/1.1 200")
    assert s.wants_close
    assert not isinstance(events[0], ProtocolViolation)


@pytest.mark.parametrize(
    "line, status",
    [
        (b"PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n", 400),  # a PROXY header where no filter takes it
        (b"GET /a b HTTP/1.1\r\n", 400),
        (b"GET / HTTP/2.0\r\n", 505),
        (b"G@T / HTTP/1.1\r\n", 400),
    ],
)
def test_a_request_line_no_head_can_mend_is_refused_once_it_is_whole(line, status):
    """As Envoy's incremental parser does: not at the stream idle timeout, minutes later."""
    c = H1ServerCodec()
    [refusal] = c.receive_data(b"\r\n" + line[:5]) + c.receive_data(line[5:])
    assert refusal.status == status and b" %d " % status in c.data_to_send()


def test_a_request_line_split_anywhere_is_judged_the_same():
    line = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    for cut in range(1, len(line)):
        c = H1ServerCodec()
        events = c.receive_data(line[:cut]) + c.receive_data(line[cut:])
        assert [type(e).__name__ for e in events] == ["RequestHeaders"], cut
