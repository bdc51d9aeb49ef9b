"""The state of one HTTP/2 stream in the codec, as data: a state per direction, one table each.

RFC 9113 5.1's stream states are the two directions together (h2's `stream.py` tracks the same
machine on the wire): both OPEN is "open", SEND CLOSED alone "half-closed (local)", RECEIVE CLOSED
alone "half-closed (remote)", both CLOSED "closed". "Reserved" never happens (push is off) and a
reset stream leaves the codec's table at once. The codec adds one state h2 does not have: ENDING,
the owner ended the stream but END_STREAM still waits for the peer's window (or goes out on the
trailers after the body), since the codec holds back DATA beyond the window.

`SEND.after(state, event)` / `RECEIVE.after(...)` is the only way a state changes; an event the
table lacks raises IllegalTransition naming stream, state and event (for the owner's commands the
codec passes CodecUsageError instead).
"""

from proxy.http._machine import Machine, Symbol


class Send:
    IDLE = Symbol()  # no final head yet (a server stream before its response; 1xx may go out)
    OPEN = Symbol()  # the head is out, the body goes on
    ENDING = Symbol()  # the owner ended the stream; END_STREAM waits for window or trailers
    CLOSED = Symbol()  # END_STREAM is on the wire


class Receive:
    OPEN = Symbol()
    CLOSED = Symbol()  # the peer's END_STREAM arrived


class Event:
    INFORMATIONAL = Symbol()
    HEADERS = Symbol()  # a final head (a request's, or a response's)
    DATA = Symbol()
    END = Symbol()  # the owner ended the stream (last data, trailers, or a head that ends it)
    SENT = Symbol()  # END_STREAM was written (on DATA, on trailers, or on an empty DATA frame)
    END_STREAM = Symbol()  # the peer's END_STREAM


SEND = Machine(
    "HTTP/2 send side",
    {
        Send.IDLE: {Event.INFORMATIONAL: Send.IDLE, Event.HEADERS: Send.OPEN},
        Send.OPEN: {Event.DATA: Send.OPEN, Event.END: Send.ENDING},
        Send.ENDING: {Event.SENT: Send.CLOSED},
        Send.CLOSED: {},
    },
)
RECEIVE = Machine(
    "HTTP/2 receive side",
    {
        Receive.OPEN: {Event.END_STREAM: Receive.CLOSED},
        Receive.CLOSED: {},
    },
)


def head_sent(send: Symbol, end_stream: bool, stream_id: int) -> Symbol:
    """The send state after a final head: the body is open, or END_STREAM went out on the head."""
    send = SEND.after(send, Event.HEADERS, stream_id)
    if end_stream:
        send = SEND.after(SEND.after(send, Event.END, stream_id), Event.SENT, stream_id)
    return send
