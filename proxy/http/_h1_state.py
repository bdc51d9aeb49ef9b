"""The state of one HTTP/1.1 server exchange, as data: a state per direction, one transition table.

h11's `_state.py` is the model. An exchange is three small machines, each a column of the table:

- the request, as the codec reads it from the client (`REQUEST`);
- the response as the owner asked for it through `send_*` (`RESPONSE`, queued in order), and
- the same response as written to the wire (`RESPONSE` again): a pipelined response is written
  only once every earlier one is complete, so what the owner sent and what is on the wire differ.

`after(machine, state, event)` is the only way a state changes; an event the table has no entry
for is a bug in the codec and raises `IllegalTransition` naming the machine, state and event (the
codec checks the owner's calls first and answers misuse with `CodecUsageError`).

The operations queued until an exchange is first in line are small frozen dataclasses, one per
kind, as mitmproxy's `commands.py` has them: the writer matches on their type.
"""

import enum
from dataclasses import dataclass
from typing import TypeVar


class IllegalTransition(RuntimeError):
    """An event the transition table does not allow in the current state: a bug in the codec."""


class Request(enum.Enum):
    RECEIVING = "receiving"  # the head was read and emitted; the body, if any, is arriving
    DONE = "done"  # the whole request was read
    BROKEN = "broken"  # the client sent bad input or closed before the request was complete
    REJECTED = "rejected"  # the head itself was refused: no request emitted, the codec answers


class Response(enum.Enum):
    IDLE = "idle"  # nothing yet
    INTERIM = "interim"  # informational (1xx) responses, no final one yet
    BODY = "body"  # the final head; the body (if any) goes on
    DONE = "done"  # the response is complete
    RESET = "reset"  # the owner reset the stream: the connection ends where its response would be


class Event(enum.Enum):
    INFORMATIONAL = "informational"
    HEADERS = "headers"  # a final response head
    DATA = "data"
    END = "end"  # the end of a message (its last data, its trailers, or a head that ends it)
    RESET = "reset"
    FAIL = "fail"


_REQUEST = {
    Request.RECEIVING: {Event.END: Request.DONE, Event.FAIL: Request.BROKEN},
    Request.DONE: {},
    Request.BROKEN: {},
    Request.REJECTED: {},
}
_RESPONSE = {
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
}
_TABLES: dict[type, dict] = {Request: _REQUEST, Response: _RESPONSE}

S = TypeVar("S", Request, Response)


def after(state: S, event: Event, stream_id: int = 0, error: type[Exception] = IllegalTransition) -> S:
    """The state `event` leads to from `state`, by the table of the state's machine. `error` lets
    the codec report the owner's misuse as the owner's error (CodecUsageError)."""
    try:
        return _TABLES[type(state)][state][event]
    except KeyError:
        machine = type(state).__name__.lower()
        raise error(f"HTTP/1.1 stream {stream_id}: {machine} in state {state.name} cannot take {event.name}") from None


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
