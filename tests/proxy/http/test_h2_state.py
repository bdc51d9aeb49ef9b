"""The HTTP/2 stream's state table (proxy/http/_h2_state.py) as the server codec walks it with a real
h2 client."""

import pytest

from proxy.http._h2_state import RECEIVE, SEND, Event, Receive, Send
from proxy.http._machine import IllegalTransition, members
from proxy.http.codec import CodecLimits, CodecUsageError
from proxy.http.h2 import H2ServerCodec
from tests.proxy.http.test_h2_server import REQ, exchange, peer


def test_every_state_has_a_row():
    assert set(SEND.table) == set(members(Send)) and set(RECEIVE.table) == set(members(Receive))


def test_an_illegal_transition_names_the_side_state_and_event():
    with pytest.raises(
        IllegalTransition, match="HTTP/2 receive side of stream 5: in state CLOSED cannot take END_STREAM"
    ):
        RECEIVE.after(Receive.CLOSED, Event.END_STREAM, 5)
    with pytest.raises(IllegalTransition, match="in state IDLE cannot take SENT"):
        SEND.after(Send.IDLE, Event.SENT)


def test_a_body_beyond_the_window_leaves_the_stream_ending_until_the_window_opens():
    s, c = H2ServerCodec(CodecLimits(h2_initial_window_size=65_535)), peer()
    c.send_headers(1, [(b":method", b"POST")] + REQ[1:])
    exchange(s, c)
    st = s._streams[1]
    assert (st.send, st.receive) == (Send.IDLE, Receive.OPEN)
    c.send_data(1, b"", end_stream=True)
    exchange(s, c)
    assert st.receive is Receive.CLOSED  # half-closed (remote)
    s.send_headers(1, 200, [])
    assert st.send is Send.OPEN
    s.send_data(1, b"x" * 70_000, end_stream=True)  # the client's window is 65,535
    assert st.send is Send.ENDING and st.out_bytes == 70_000 - 65_535
    c.receive_data(s.data_to_send())
    c.increment_flow_control_window(10_000)
    c.increment_flow_control_window(10_000, stream_id=1)
    exchange(s, c)
    assert st.send is Send.CLOSED and 1 not in s._streams  # both sides closed: the codec forgets it


def test_the_owners_misuse_is_a_usage_error_naming_the_state():
    s, c = H2ServerCodec(), peer()
    c.send_headers(1, REQ, end_stream=True)
    exchange(s, c)
    with pytest.raises(CodecUsageError, match="send side of stream 1: in state IDLE cannot take DATA"):
        s.send_data(1, b"x")
    s.send_headers(1, 200, [])
    with pytest.raises(CodecUsageError, match="in state OPEN cannot take HEADERS"):
        s.send_headers(1, 200, [])
