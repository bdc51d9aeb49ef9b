"""The state of one HTTP/1.1 server exchange, as data: a state per direction, one transition table.

h11's `_state.py` is the model. A server exchange has three states, moved by two tables:

- the request, as the codec reads it from the client (`REQUEST`);
- the response as the owner asked for it through `send_*` (`RESPONSE`, queued in order), and
- the same response as written to the wire (`RESPONSE` again): a pipelined response is written
  only once every earlier one is complete, so what the owner sent and what is on the wire differ.

The client codec runs one exchange at a time; its state is how far the response has been read
(`UPSTREAM`), beside whether its own request has ended.

`REQUEST.after(state, event)` / `RESPONSE.after(...)` is the only way a state changes; an event the
table has no entry for is a bug in the codec and raises `IllegalTransition` naming the machine,
stream, state and event (for the owner's commands the codec passes `CodecUsageError` instead).

The operations queued until an exchange is first in line are small frozen dataclasses, one per
kind, as mitmproxy's `commands.py` has them: the writer matches on their type.
"""

from dataclasses import dataclass

from proxy.http._machine import Machine, Symbol


class Request:
    RECEIVING = Symbol()  # the head was read and emitted; the body, if any, is arriving
    DONE = Symbol()  # the whole request was read
    BROKEN = Symbol()  # the client sent bad input or closed before the request was complete
    REJECTED = Symbol()  # the head itself was refused: no request emitted, the codec answers


class Response:
    IDLE = Symbol()  # nothing yet
    INTERIM = Symbol()  # informational (1xx) responses, no final one yet
    BODY = Symbol()  # the final head; the body (if any) goes on
    DONE = Symbol()  # the response is complete
    RESET = Symbol()  # the owner reset the stream: the connection ends where its response would be


class Upstream:
    """The client codec's exchange, by how far its response has been read (one at a time)."""

    IDLE = Symbol()  # no request in flight: the next may go
    HEAD = Symbol()  # a request went out; its response head is awaited (a 1xx keeps it here)
    BODY = Symbol()  # the final head was read, its body is arriving
    DONE = Symbol()  # the response is complete while the request is still being sent


class Event:
    REQUEST = Symbol()  # the client codec sent a request head
    REUSE = Symbol()  # both messages complete and the connection kept: the next request may go
    INFORMATIONAL = Symbol()
    HEADERS = Symbol()  # a final response head
    DATA = Symbol()
    END = Symbol()  # the end of a message (its last data, its trailers, or a head that ends it)
    RESET = Symbol()
    FAIL = Symbol()


REQUEST = Machine(
    "HTTP/1.1 request",
    {
        Request.RECEIVING: {Event.END: Request.DONE, Event.FAIL: Request.BROKEN},
        Request.DONE: {},
        Request.BROKEN: {},
        Request.REJECTED: {},
    },
)
RESPONSE = Machine(
    "HTTP/1.1 response",
    {
        Response.IDLE: {
            Event.INFORMATIONAL: Response.INTERIM,
            Event.HEADERS: Response.BODY,
            Event.RESET: Response.RESET,
        },
        Response.INTERIM: {
            Event.INFORMATIONAL: Response.INTERIM,
            Event.HEADERS: Response.BODY,
            Event.RESET: Response.RESET,
        },
        Response.BODY: {Event.DATA: Response.BODY, Event.END: Response.DONE, Event.RESET: Response.RESET},
        Response.DONE: {Event.RESET: Response.RESET},  # a complete response still waiting for its turn
        Response.RESET: {},
    },
)
UPSTREAM = Machine(
    "HTTP/1.1 client exchange",
    {
        Upstream.IDLE: {Event.REQUEST: Upstream.HEAD},
        Upstream.HEAD: {Event.HEADERS: Upstream.BODY, Event.END: Upstream.DONE},
        Upstream.BODY: {Event.END: Upstream.DONE},
        Upstream.DONE: {Event.REUSE: Upstream.IDLE},
    },
)


# ------------------------------------------------------------------------------ queued operations
Fields = list[tuple[bytes, bytes]]  # as codec.Headers


@dataclass(frozen=True, slots=True)
class SendInformational:
    status: int
    fields: Fields


@dataclass(frozen=True, slots=True)
class SendHead:
    status: int
    fields: Fields
    end: bool


@dataclass(frozen=True, slots=True)
class SendBody:
    data: bytes
    end: bool


@dataclass(frozen=True, slots=True)
class SendTrailers:
    fields: Fields


@dataclass(frozen=True, slots=True)
class Abort:
    """The owner reset the stream: HTTP/1.1 has no stream reset, so the connection ends here."""


Operation = SendInformational | SendHead | SendBody | SendTrailers | Abort
