"""One codec interface for HTTP/1.1 and HTTP/2: bytes in, protocol-neutral stream events out.

The contract (stated once; h1.py and h2.py implement it, the connection manager relies on it)
------------------------------------------------------------------------------------------------
A codec is sans-IO. The owner feeds received bytes with `receive_data(data)` and gets back a list
of events; it issues commands (`send_headers`, `send_data`, ...) and collects the bytes to write
with `data_to_send()`. No call blocks, reads a clock or touches a socket, and the same bytes fed in
any split produce the same events once data is concatenated per stream (split invariance).

Input never raises. Whatever the peer sends, `receive_data` returns events; bad input becomes a
`ProtocolViolation` event. `receive_data(b"")` means the peer closed its side (EOF).

Streams. Every request/response exchange is a stream with an integer id (HTTP/1.1: 1, 2, 3, ...
in request order; HTTP/2: the wire stream id). Per direction a stream carries, in order:
headers, zero or more `Data`, optionally `Trailers`. Exactly one event ends each direction: a
headers event with `end_stream=True`, a `Data` with `end_stream=True` (possibly empty), or
`Trailers` (which always end it). Informational responses (1xx) come before the final headers.

Errors and ends.
- `ProtocolViolation(stream_id=N)`: stream N is dead (bad body, malformed HTTP/2 request). The codec
  has already answered the peer (HTTP/1.1: the `status` response and a close, or only the close when
  N's response had begun, `status` None; HTTP/2: RST_STREAM). Later sends on N are ignored.
- `ProtocolViolation(stream_id=None)`: the connection is dead. The codec has queued its last bytes
  (an HTTP/1.1 error response, or an HTTP/2 GOAWAY) and `wants_close` is True. Every open stream
  is over; no separate `StreamReset` follows. No further events are produced. HTTP/1.1 is the
  exception that `earlier_streams_live` marks: the requests before the bad one arrived whole and
  are answered first (pipelining keeps order), then the codec's error response, then the close.
- `StreamReset(N)`: the peer abandoned stream N (RST_STREAM, or EOF in the middle of a message).
- `ConnectionClosed`: the peer closed or sent GOAWAY; streams above `last_stream_id` (when set)
  were not processed and may be retried.

Commands. Misuse by the owner (unknown stream id, sending after the end of a stream, consuming
more than was received) raises `CodecUsageError`; that is a bug in the caller, not in the input.
Sends on a stream the peer or the codec has already reset are silently ignored (the owner may not
have seen the reset yet). Headers passed to send functions are protocol-neutral: the codec drops
connection-specific fields (connection, keep-alive, proxy-connection, transfer-encoding, upgrade)
and chooses the framing itself; from trailers it also drops the fields RFC 9110 6.5.1 keeps out of
them (headers.TRAILER_FORBIDDEN). Received trailers with a name that is not a lowercase token make
the message malformed (a ProtocolViolation for its stream), and so does such a field in a request's
trailers; in a response's it is dropped (a recipient may discard trailers, RFC 9110 6.5.1). A header or trailer
section larger than the peer accepts is refused with `HeaderListTooLarge` before anything is sent.

Flow control. Body bytes delivered in `Data` events count against the peer's send window until
the owner calls `consume(stream_id, n)` as it drains them (HTTP/2 WINDOW_UPDATE; HTTP/1.1: no-op).
The codec never acknowledges on receipt: that is the backpressure.

`wants_close` turns True when the codec will neither accept nor send anything more: the owner
flushes `data_to_send()` and closes the transport; when `close_unflushed` is True as well the peer
stopped reading what it is sent (an HTTP/2 outbound flood) and the owner closes without flushing.
When `close_cuts_response` is True the close ends a response cut short (HTTP/1.1 has no stream reset):
the owner flushes what was sent but must not certify its end (no TLS close_notify, RFC 9112 9.8).
Before each `data_to_send()` the owner may tell the codec `note_unwritten(n)`: the last n bytes it
took are still waiting for the socket (HTTP/2 counts the frames among them against its outbound
limits; without the call everything taken counts as written). `stats` is a dict of counters (defences hit,
protocol errors) for the owner to export.
"""

from dataclasses import dataclass
from typing import Literal

Headers = list[tuple[bytes, bytes]]

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class HeaderListTooLarge(Exception):
    """A send refused before any byte went out: the header or trailer section is larger than the peer
    advertised it accepts (HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE, RFC 9113 6.5.2). The stream is as it
    was; the owner answers otherwise (a local reply, or a reset once the response has started)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a {size}-byte header list, the peer accepts {limit}")
        self.size = size
        self.limit = limit


class CodecUsageError(ValueError):
    """The owner called a codec command wrongly (a caller bug, never caused by peer input)."""


# ---------------------------------------------------------------------------------------- events
@dataclass(frozen=True)
class RequestHeaders:
    stream_id: int
    method: bytes
    target: bytes  # origin-form path and query (HTTP/2 :path), absolute-form kept as sent on HTTP/1.1
    authority: bytes  # Host / :authority; b"" when an HTTP/1.0 request had none
    scheme: bytes  # :scheme on HTTP/2; HTTP/1.1: an absolute-form target's, else b"http" (HCM: https over TLS)
    headers: Headers  # regular fields, lowercase names, no pseudo-headers, no host, no hop-by-hop
    end_stream: bool
    expect_continue: bool = False  # the peer waits for a 100 (send_headers(stream_id, 100, []))
    http_version: bytes = b"1.1"  # b"1.0", b"1.1" or b"2"


@dataclass(frozen=True)
class InformationalResponse:
    stream_id: int
    status: int  # 100..199 except 101
    headers: Headers


@dataclass(frozen=True)
class ResponseHeaders:
    stream_id: int
    status: int
    headers: Headers
    end_stream: bool
    http_version: bytes = b"1.1"


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes
    end_stream: bool


@dataclass(frozen=True)
class Trailers:
    stream_id: int
    headers: Headers  # always ends the stream's direction


@dataclass(frozen=True)
class StreamReset:
    stream_id: int
    reason: str
    error_code: int | None = None  # HTTP/2 error code when the peer sent RST_STREAM


# Stable codes of ProtocolViolation: tests, stats and triage match on these, never on the free-text
# reason. HTTP/1.1 server codecs: the status they answer with (RFC 9110 15.5/15.6 reason phrases);
# HTTP/1.1 client codecs: the upstream's response is invalid; HTTP/2: the error code (RFC 9113 7).
H1_CODES = {
    400: "bad_request",
    431: "request_header_fields_too_large",
    501: "not_implemented",
    505: "http_version_not_supported",
}
INVALID_RESPONSE = "invalid_response"
H2_CODES = {
    0x0: "no_error",
    0x1: "protocol_error",
    0x2: "internal_error",
    0x3: "flow_control_error",
    0x4: "settings_timeout",
    0x5: "stream_closed",
    0x6: "frame_size_error",
    0x7: "refused_stream",
    0x8: "cancel",
    0x9: "compression_error",
    0xA: "connect_error",
    0xB: "enhance_your_calm",
    0xC: "inadequate_security",
    0xD: "http_1_1_required",
}


def violation_code(status: int | None, error_code: int | None) -> str:
    """The stable code of a violation the codec answered with `status` (HTTP/1.1) or `error_code` (HTTP/2)."""
    if error_code is not None:
        return "h2_" + H2_CODES.get(error_code, f"error_{error_code:#x}")
    if status is not None:
        return H1_CODES.get(status, f"status_{status}")
    return "malformed"


@dataclass(frozen=True)
class ProtocolViolation:
    """The peer broke the protocol: an event the codec reports (not an exception it raises)."""

    reason: str  # free text for people; match on `code`
    status: int | None = None  # HTTP/1.1: the status the codec answered with (400, 431, 501, 505, 502)
    error_code: int | None = None  # HTTP/2: RST_STREAM / GOAWAY error code
    stream_id: int | None = None  # None: the whole connection
    # stream_id None, HTTP/1.1: the requests received whole before the bad input still get their
    # responses; the codec's error response follows them in order, then the connection closes.
    earlier_streams_live: bool = False
    code: str = ""  # stable (H1_CODES, INVALID_RESPONSE, "h2_" + H2_CODES); derived when not given

    def __post_init__(self) -> None:
        if not self.code:
            object.__setattr__(self, "code", violation_code(self.status, self.error_code))


@dataclass(frozen=True)
class ConnectionClosed:
    reason: str
    error_code: int | None = None  # HTTP/2 GOAWAY error code
    last_stream_id: int | None = None  # HTTP/2 GOAWAY: higher streams were not processed


Event = (
    RequestHeaders
    | InformationalResponse
    | ResponseHeaders
    | Data
    | Trailers
    | StreamReset
    | ProtocolViolation
    | ConnectionClosed
)


# ---------------------------------------------------------------------------------------- limits
@dataclass(frozen=True)
class CodecLimits:
    """Bounds every codec enforces. Defaults follow Envoy's where Envoy has one."""

    max_header_bytes: int = 60 * 1024  # HTTP/1.1 head size / HTTP/2 decoded header list size -> 431
    max_headers: int = 100  # number of header fields -> 431
    max_pipelined_requests: int = 16  # HTTP/1.1 requests parsed ahead of their responses
    max_chunk_line_bytes: int = 4096  # chunk-size line with extensions
    h2_max_concurrent_streams: int = 100
    h2_max_frame_size: int = 16384
    h2_initial_window_size: int = 65535
    h2_max_continuation_frames: int = 16  # CONTINUATION frames in one header block
    h2_rapid_reset_window: int = 100  # look at the peer's last N opened streams ...
    h2_rapid_reset_max: int = 50  # ... and refuse more than this many reset by the peer
    h2_max_pending_control_acks: int = 100  # PING / SETTINGS ACKs queued but not yet taken
    # Envoy's flood limits (CVE-2019-9512, -9514, -9515, -9518), with its defaults: frames waiting to be
    # written to the socket, of any type / PING and SETTINGS ACKs and RST_STREAM; DATA, HEADERS or
    # CONTINUATION frames in a row that carry no payload and do not end the stream.
    h2_max_outbound_frames: int = 10000
    h2_max_outbound_control_frames: int = 1000
    h2_max_consecutive_empty_frames: int = 1
    # Envoy's inbound frame limits (from its CVE-2019-9513 fix): over the connection's life, PRIORITY frames
    # beyond this many per stream opened (+1), and WINDOW_UPDATE frames beyond 5 + 2 x (streams
    # opened + this many per DATA frame sent) end it. A stream is opened by the response headers
    # a server sends, or the request headers a client sends.
    h2_max_inbound_priority_frames_per_stream: int = 100
    h2_max_inbound_window_update_frames_per_data_frame_sent: int = 10


DEFAULT_LIMITS = CodecLimits()


# ------------------------------------------------------------------------------------ interfaces
class _Codec:
    stats: dict[str, int]
    wants_close: bool
    close_unflushed: bool = False
    close_cuts_response: bool = False

    def note_unwritten(self, n: int) -> None:
        """The last n bytes taken from data_to_send() are not on the socket yet (HTTP/1.1: ignored)."""

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the peer (b"" = EOF). Returns the events they complete. Never raises."""
        raise NotImplementedError

    def data_to_send(self) -> bytes:
        """Take the bytes queued for the wire (b"" when none)."""
        raise NotImplementedError

    def pending_events(self) -> list[Event]:
        """Events made ready by commands rather than input: an HTTP/1.1 request held back by
        max_pipelined_requests is parsed once an earlier response completes. Call after sending."""
        raise NotImplementedError

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        raise NotImplementedError

    def send_trailers(self, stream_id: int, headers: Headers) -> None:
        """End the stream's outbound direction with trailers (dropped where the framing has none)."""
        raise NotImplementedError

    def reset_stream(self, stream_id: int, reason: str = "reset by owner") -> None:
        """Abandon a stream (HTTP/2 RST_STREAM CANCEL; HTTP/1.1 cannot: the connection closes)."""
        raise NotImplementedError

    def consume(self, stream_id: int, n: int) -> None:
        """The owner drained n body bytes of stream_id: reopen the peer's window (HTTP/2)."""
        raise NotImplementedError

    def goaway(self) -> None:
        """Graceful shutdown: finish the streams in flight, accept no new ones, then close."""
        raise NotImplementedError


class ServerCodec(_Codec):
    """Downstream side: receives requests, sends responses."""

    def send_headers(self, stream_id: int, status: int, headers: Headers, end_stream: bool = False) -> None:
        """Send response headers; status 100-199 sends an informational response (end_stream False)."""
        raise NotImplementedError

    def answered_itself(self, stream_id: int) -> bool:
        """True when the codec put its own error response (the `status` of the stream's ProtocolViolation)
        in place of whatever the owner sends on stream N: the owner's response never reaches the peer."""
        return False

    @property
    def request_started(self) -> bool:
        """Bytes of a request whose head is not whole yet are held. Envoy makes a stream at a request's
        first byte: the owner treats such a request as one in flight and bounds it with its own timer,
        then calls time_out_request. HTTP/2: a header block left open (CONTINUATION to come)."""
        return False

    def time_out_request(self) -> int | None:
        """The owner's timer ran out on the request whose head is still arriving (request_started):
        the codec answers it and returns the status it sent (HTTP/1.1: 408), or ends the connection
        and returns None (HTTP/2: the open header block leaves nothing else to do)."""
        return None


class ClientCodec(_Codec):
    """Upstream side: sends requests, receives responses."""

    def send_request_headers(
        self,
        method: bytes,
        target: bytes,
        authority: bytes,
        headers: Headers,
        end_stream: bool = False,
        scheme: bytes = b"http",
    ) -> int:
        """Start a request; returns its stream id."""
        raise NotImplementedError

    def can_send_request(self) -> bool:
        """True when send_request_headers would open a stream now (keep-alive idle / stream slots free)."""
        raise NotImplementedError


# --------------------------------------------------------------------------------- construction
CodecKind = Literal["HTTP1", "HTTP2", "AUTO"]


ALPN_CODECS: dict = {"h2": "HTTP2", "http/1.1": "HTTP1", "http/1.0": "HTTP1"}


__all__ = [
    "CodecKind",
    "CodecLimits",
    "CodecUsageError",
    "ClientCodec",
    "ConnectionClosed",
    "DEFAULT_LIMITS",
    "Data",
    "Event",
    "H2_PREFACE",
    "HeaderListTooLarge",
    "Headers",
    "InformationalResponse",
    "INVALID_RESPONSE",
    "ProtocolViolation",
    "RequestHeaders",
    "ResponseHeaders",
    "ServerCodec",
    "StreamReset",
    "Trailers",
    "violation_code",
]
