"""The HTTP/1.1 exchange's state table (proxy/http/_h1_state.py) and how the server codec uses it."""

import pytest

from proxy.http._h1_state import REQUEST, RESPONSE, UPSTREAM, Event, Request, Response, Upstream
from proxy.http._machine import IllegalTransition, members
from proxy.http.codec import CodecUsageError
from proxy.http.h1 import H1ClientCodec, H1ServerCodec

GET = b"GET / HTTP/1.1\r\nhost: a\r\n\r\n"


def test_a_response_goes_idle_interim_body_done():
    state = Response.IDLE
    for event, expected in [
        (Event.INFORMATIONAL, Response.INTERIM),
        (Event.HEADERS, Response.BODY),
        (Event.DATA, Response.BODY),
        (Event.END, Response.DONE),
    ]:
        state = RESPONSE.after(state, event)
        assert state is expected


def test_an_illegal_transition_names_the_machine_state_and_event():
    with pytest.raises(IllegalTransition, match=r"HTTP/1.1 request of stream 3: in state DONE cannot take FAIL"):
        REQUEST.after(Request.DONE, Event.FAIL, 3)
    with pytest.raises(IllegalTransition, match=r"response of stream 0: in state RESET cannot take DATA"):
        RESPONSE.after(Response.RESET, Event.DATA)


def test_a_rejected_head_takes_no_event():
    for event in members(Event):
        with pytest.raises(IllegalTransition):
            REQUEST.after(Request.REJECTED, event)


def test_every_state_has_a_row():
    assert set(REQUEST.table) == set(members(Request)) and set(RESPONSE.table) == set(members(Response))
    assert set(UPSTREAM.table) == set(members(Upstream))


def test_the_owners_misuse_is_a_usage_error_naming_the_state():
    s = H1ServerCodec()
    s.receive_data(GET)
    with pytest.raises(CodecUsageError, match="response of stream 1: in state IDLE cannot take DATA"):
        s.send_data(1, b"x")
    s.send_headers(1, 200, [(b"content-length", b"1")])
    with pytest.raises(CodecUsageError, match="in state BODY cannot take HEADERS"):
        s.send_headers(1, 200, [])
    s.send_data(1, b"x", end_stream=True)
    s2 = H1ServerCodec()
    s2.receive_data(GET + GET)  # the second response waits for the first: its owner state is DONE
    s2.send_headers(2, 204, [], end_stream=True)
    with pytest.raises(CodecUsageError, match="response of stream 2: in state DONE cannot take DATA"):
        s2.send_data(2, b"")


def test_the_wire_state_follows_the_owner_only_when_first_in_line():
    s = H1ServerCodec()
    s.receive_data(GET + GET)
    s.send_headers(2, 200, [(b"content-length", b"0")], end_stream=True)
    second = s._streams[2]
    assert (second.owner, second.wire) == (Response.DONE, Response.IDLE)  # queued behind stream 1
    s.send_headers(1, 200, [(b"content-length", b"0")], end_stream=True)
    assert second.wire is Response.DONE and s.data_to_send().count(b"HTTP/1.1 200") == 2


def test_bad_input_breaks_the_request_being_read():
    s = H1ServerCodec()
    s.receive_data(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nab")
    ex = s._streams[1]
    assert ex.request is Request.RECEIVING
    s.receive_data(b"")  # the client leaves mid-body
    assert ex.request is Request.BROKEN and ex.abandoned


def test_the_client_exchange_goes_idle_head_body_done_and_idle_again():
    c = H1ClientCodec()
    assert c._phase is Upstream.IDLE
    sid = c.send_request_headers(b"POST", b"/", b"up", [])  # the request body is still to come
    assert c._phase is Upstream.HEAD
    c.receive_data(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert c._phase is Upstream.BODY
    c.receive_data(b"ok")
    assert c._phase is Upstream.DONE and not c.can_send_request()  # the response ended before the request
    c.send_data(sid, b"", end_stream=True)
    assert c._phase is Upstream.IDLE and c.can_send_request()
