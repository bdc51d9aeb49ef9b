"""HTTP/2 codecs on h2, with flow control that gives real backpressure and flood defences.

- Received DATA is acknowledged (WINDOW_UPDATE) only when the owner calls `consume()`; padding,
  which the owner never sees, is acknowledged on receipt.
- Outbound DATA beyond the peer's window is buffered per stream and sent as WINDOW_UPDATEs arrive
  (`buffered_outbound(stream_id)` lets the owner apply watermarks).
- Defences, each counted in `stats` and answered with GOAWAY(ENHANCE_YOUR_CALM): rapid reset
  (`h2_rapid_reset`), CONTINUATION flood (`h2_continuation_flood`), HPACK bomb (`h2_hpack_bomb`),
  PING flood (`h2_ping_flood`), SETTINGS flood (`h2_settings_flood`), frames with an empty payload
  (`h2_inbound_empty_frames_flood`, Envoy's max_consecutive_inbound_frames_with_empty_payload), PRIORITY
  and WINDOW_UPDATE frames beyond what the streams opened and DATA frames sent account for
  (`h2_inbound_priority_frames_flood`, `h2_inbound_window_update_frames_flood`, Envoy's
  max_inbound_priority_frames_per_stream and max_inbound_window_update_frames_per_data_frame_sent).
- Outbound floods (Envoy's max_outbound_frames / max_outbound_control_frames): more frames waiting
  for the socket than the limits (`note_unwritten` says what still waits) end the connection
  without a flush (`close_unflushed`), counted in `h2_outbound_flood` / `h2_outbound_control_flood`.
- A stream over our MAX_CONCURRENT_STREAMS is refused alone: RST_STREAM(REFUSED_STREAM), counted in
  `h2_too_many_streams`; the connection and its other streams go on (RFC 9113 5.1.2).
- The server applies the HTTP/2 -> HTTP/1 downgrade rules of headers.py to every request: a request
  that breaks them gets RST_STREAM(PROTOCOL_ERROR) and a `ProtocolViolation(stream_id=...)` event.
  What h2 itself rejects (invalid characters, pseudo-header rules, content-length against DATA)
  is a connection error: GOAWAY(PROTOCOL_ERROR) and `ProtocolViolation(stream_id=None)`.

Inbound bytes are fed to h2 one frame at a time (boundaries found by _h2_guard.FrameGuard), so the
events do not depend on how the bytes were split.
"""

from collections import deque
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame

from proxy.http import _h2_gaps  # corrects h2 where it departs from RFC 9113
from proxy.http._h2_guard import ACK, GOAWAY, SETTINGS, FrameGuard, OutboundFrames
from proxy.http._h2_quiet import quiet
from proxy.http._h2_state import RECEIVE, SEND, Event as Ev, Receive, Send, head_sent
from proxy.http._machine import Symbol
from proxy.http.codec import (
    DEFAULT_LIMITS,
    H2_PREFACE,
    ClientCodec,
    CodecLimits,
    CodecUsageError,
    ConnectionClosed,
    Data,
    Event,
    HeaderListTooLarge,
    Headers,
    InformationalResponse,
    ProtocolViolation,
    RequestHeaders,
    ResponseHeaders,
    ServerCodec,
    StreamReset,
    Trailers,
)
from proxy.http.headers import (
    check_h2_request_for_downgrade,
    header_list_size,
    is_token,
    received_response_trailers,
    sendable_trailers,
    strip_hop_by_hop,
    trailer_problem,
)

ENHANCE_YOUR_CALM = int(ErrorCodes.ENHANCE_YOUR_CALM)
DEFAULT_WINDOW = 65535  # RFC 9113 6.9.2: every flow-control window's size before SETTINGS or WINDOW_UPDATE
PROTOCOL_ERROR = int(ErrorCodes.PROTOCOL_ERROR)


@dataclass
class _Stream:
    """One stream's state per direction (the table is in _h2_state.py) and what it holds."""

    send: Symbol = Send.IDLE
    receive: Symbol = Receive.OPEN
    out: deque = field(default_factory=deque)  # bytes chunks waiting for window
    out_bytes: int = 0
    out_trailers: Headers | None = None  # sent after `out` drains, with END_STREAM
    unconsumed: int = 0  # delivered to the owner, not yet consume()d
    body_left: int | None = None  # a request's content-length less the DATA received so far


def _count(stats: dict[str, int], key: str) -> None:
    stats[key] = stats.get(key, 0) + 1


def _block(fields) -> Headers:
    """A received field block, cookie crumbs joined into one field (RFC 9113 8.2.3) as h2 would, but
    without the empty crumbs: h2 joins them into a value ending in "; " and then refuses its own
    result as surrounded by whitespace, a connection error over a valid empty cookie field."""
    block, crumbs = [], []
    for name, value in fields:
        if name == b"cookie":
            if value:
                crumbs.append(bytes(value))
        else:
            block.append((bytes(name), bytes(value)))
    if crumbs:
        block.append((b"cookie", b"; ".join(crumbs)))
    return block


def _regular_fields(block: Headers) -> int:
    """Fields counted against CodecLimits.max_headers: pseudo-headers are not (HTTP/1.1 has none)."""
    return sum(1 for name, _ in block if not name.startswith(b":"))


def _status(block: Headers) -> int | None:
    value = dict(block).get(b":status", b"")
    return int(value) if len(value) == 3 and value.isdigit() else None


def _outbound(headers: Headers) -> Headers:
    for name, _ in headers:
        if not is_token(name):  # h2 itself fails on an empty name with an IndexError
            raise CodecUsageError(f"header name {name[:64]!r} is not a token")
    return [(n, v) for n, v in strip_hop_by_hop(headers) if n != b"host" and not n.startswith(b":")]


class _H2Codec:
    client_side = False

    def __init__(self, limits: CodecLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.stats: dict[str, int] = {}
        self.wants_close = False
        config = h2.config.H2Configuration(
            client_side=self.client_side,
            header_encoding=None,
            validate_inbound_headers=True,
            validate_outbound_headers=True,
            normalize_inbound_headers=False,
            normalize_outbound_headers=True,
        )
        conn = _h2_gaps.H2Connection(config)
        quiet(conn)  # no repr(frame) built per received frame for a log that is off
        values = {
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: limits.h2_max_concurrent_streams,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: limits.max_header_bytes,
            h2.settings.SettingCodes.MAX_FRAME_SIZE: limits.h2_max_frame_size,
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: limits.h2_initial_window_size,
        }
        if self.client_side:
            values[h2.settings.SettingCodes.ENABLE_PUSH] = 0
        # Our limits hold from the first frame, not only once the peer ACKs our SETTINGS.
        conn.local_settings = h2.settings.Settings(client=self.client_side, initial_values=values)
        conn.max_inbound_frame_size = limits.h2_max_frame_size
        conn.decoder.max_header_list_size = limits.max_header_bytes
        conn.initiate_connection()
        if limits.h2_initial_window_size > DEFAULT_WINDOW:
            # SETTINGS_INITIAL_WINDOW_SIZE sizes stream windows only; the connection window stays 65535
            # (RFC 9113 6.9.2) unless opened. Left so, it capped every stream at 64 KiB in flight and
            # the configured window changed nothing; Envoy opens it too (initial_connection_window_size).
            conn.increment_flow_control_window(limits.h2_initial_window_size - DEFAULT_WINDOW)
        if not self.client_side:
            # h2 answers a stream over our advertised MAX_CONCURRENT_STREAMS with a connection error,
            # killing the healthy streams too. RFC 9113 5.1.2 lets us refuse that stream alone, which
            # the server codec does itself: h2 keeps the SETTINGS it sent, not the check.
            values[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = 2**31 - 1
            conn.local_settings = h2.settings.Settings(client=False, initial_values=values)
        self._conn = conn
        self._guard = FrameGuard(limits, preface_len=0 if self.client_side else len(H2_PREFACE))
        self._outbound = OutboundFrames(limits, preface_len=len(H2_PREFACE) if self.client_side else 0)
        self._guard.outbound = self._outbound  # the WINDOW_UPDATE limit grows with the DATA frames sent
        self._out_total = 0  # bytes waiting for the peer's window, all streams
        self.close_unflushed = False
        self._streams: dict[int, _Stream] = {}
        self._dead = False
        self._draining = False
        self._held = b""  # the start of a frame whose end has not arrived: h2 only ever gets whole frames
        self._preface_due = not self.client_side  # a server's first bytes must be the client preface
        self._peer_last: int | None = None  # the peer's graceful GOAWAY: its last stream id
        self.peer_settings_received = False  # the peer's first SETTINGS frame (its preface) is in
        self._extra = bytearray()  # frames we build ourselves (graceful GOAWAY), after h2's bytes
        self._recent: deque[int] = deque()  # rapid reset: the peer's last opened streams ...
        self._recent_set: set[int] = set()
        self._recent_resets: set[int] = set()  # ... and which of them it reset early
        self._last_accepted = 0

    # ------------------------------------------------------------------------------------ input
    def receive_data(self, data: bytes) -> list[Event]:
        if self._dead:
            return []
        if not data:
            self._dead = True
            self.wants_close = True
            return [ConnectionClosed("peer closed")]
        if self._preface_due and (refusal := self._refuse_non_preface(data)):
            return refusal
        cuts, violation = self._guard.scan(data)
        held = len(self._held)
        buf = self._held + data if held else data
        self._held = b""
        events: list[Event] = []
        start = 0
        for cut in cuts:
            if violation is not None and cut > violation.offset:
                break
            if cut + held > start:
                self._feed_frame(buf[start : cut + held], events)
                start = cut + held
            if self._dead:
                return events
        if violation is not None:
            if violation.offset + held > start:
                self._feed(buf[start : violation.offset + held], events)
            if not self._dead:
                events.append(self._calm(violation.stat, violation.reason, violation.error_code))
            return events
        self._held = bytes(buf[start:])
        return events

    def _refuse_non_preface(self, data: bytes) -> list[Event]:
        """RFC 9113 3.4, judged as the bytes arrive: the guard holds the preface until its 24 bytes are
        in, so a client that sent fewer that can never be it (a short HTTP/1.1 request to an
        HTTP/2-only listener) got no answer until the idle timeout, or never without one; nghttp2
        compares each byte it gets and Envoy closes at the first wrong one. h2 compares the same way,
        so the bytes so far go to h2, whose refusal is the one a whole wrong preface gets."""
        seen = self._held + data
        n = min(len(seen), len(H2_PREFACE))
        if seen[:n] == H2_PREFACE[:n]:
            self._preface_due = n < len(H2_PREFACE)
            return []
        self._held = b""
        events: list[Event] = []
        self._feed(seen[:n], events)
        return events

    def _feed_frame(self, frame: bytes, events: list[Event]) -> None:
        """One whole frame (or the client preface) into h2, except a graceful GOAWAY to a client:
        h2 would close the connection at once, but streams up to its last id may still complete
        (RFC 9113 6.8), so the codec keeps them going and only stops opening new ones."""
        flood = self._guard.whole_frame(frame)
        if flood is not None:
            events.append(self._calm(*flood))
            return
        if (
            self.client_side
            and len(frame) >= 17
            and frame[3] == GOAWAY
            and not int.from_bytes(frame[5:9], "big") & 0x7FFFFFFF
            and int.from_bytes(frame[13:17], "big") == 0
        ):
            last = int.from_bytes(frame[9:13], "big") & 0x7FFFFFFF
            self._peer_last = last if self._peer_last is None else min(last, self._peer_last)
            _count(self.stats, "h2_goaway_received")
            events.append(ConnectionClosed("peer sent GOAWAY (NO_ERROR)", 0, self._peer_last))
            if not any(sid <= self._peer_last for sid in self._streams):
                self.wants_close = True
            return
        if len(frame) >= 9 and frame[3] == SETTINGS and not frame[4] & ACK:
            self.peer_settings_received = True
        self._feed(frame, events)

    def _feed(self, chunk: bytes, events: list[Event]) -> None:
        try:
            h2_events = self._conn.receive_data(chunk)
        except h2.exceptions.DenialOfServiceError as e:
            _count(self.stats, "h2_hpack_bomb")
            self._die()
            events.append(ProtocolViolation(f"HPACK bomb: {e}", error_code=ENHANCE_YOUR_CALM))
            return
        except h2.exceptions.TooManyStreamsError as e:
            _count(self.stats, "h2_too_many_streams")
            self._die()
            events.append(ProtocolViolation(str(e), error_code=int(e.error_code)))
            return
        except h2.exceptions.ProtocolError as e:
            _count(self.stats, "h2_protocol_error")
            self._die()
            events.append(ProtocolViolation(str(e) or type(e).__name__, error_code=int(e.error_code)))
            return
        merged: list = []  # StreamEnded events already folded into headers / data / trailers
        for ev in h2_events:
            if self._dead:
                return
            self._translate(ev, merged, events)

    def _translate(self, ev, merged: list, events: list[Event]) -> None:
        if isinstance(ev, h2.events.DataReceived):
            st = self._streams.get(ev.stream_id)
            padding = ev.flow_controlled_length - len(ev.data)
            if padding:
                self._conn.acknowledge_received_data(padding, ev.stream_id)
            if st is None:
                self._conn.acknowledge_received_data(len(ev.data), ev.stream_id)
                return
            st.unconsumed += len(ev.data)
            if st.body_left is not None:
                st.body_left -= len(ev.data)
            end = ev.stream_ended is not None
            if end:
                merged.append(ev.stream_ended)
                st.receive = RECEIVE.after(st.receive, Ev.END_STREAM, ev.stream_id)
            events.append(Data(ev.stream_id, bytes(ev.data), end))
            self._maybe_forget(ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            if ev.stream_ended is not None:
                merged.append(ev.stream_ended)
            st = self._streams.get(ev.stream_id)
            if st is not None:
                block = _block(ev.headers)
                if self.client_side:  # a response's: dropped, not refused (headers.received_response_trailers)
                    block = received_response_trailers(block)
                problem = trailer_problem(block)  # h2 checks trailers less than headers
                if problem is None and len(block) > self.limits.max_headers:  # as HTTP/1.1's codec
                    problem = f"more than {self.limits.max_headers} trailer fields"
                if problem is None and st.body_left:
                    # h2 checks content-length against DATA only when DATA ends the stream: a request
                    # ended by trailers would go upstream promising more (or less) body than it has.
                    problem = "content-length does not match the body before the trailers"
                if problem is not None:
                    self._malformed(ev.stream_id, problem, events)
                    return
                st.receive = RECEIVE.after(st.receive, Ev.END_STREAM, ev.stream_id)
                events.append(Trailers(ev.stream_id, block) if block else Data(ev.stream_id, b"", True))
                self._maybe_forget(ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            if any(ev is m for m in merged):
                return
            st = self._streams.get(ev.stream_id)
            if st is not None:
                st.receive = RECEIVE.after(st.receive, Ev.END_STREAM, ev.stream_id)
                events.append(Data(ev.stream_id, b"", True))
                self._maybe_forget(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            self._peer_reset(ev, events)
        elif isinstance(ev, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            sid = getattr(ev, "stream_id", 0)
            for s in [sid] if sid else list(self._streams):
                self._flush_stream(s)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self._dead = True
            self.wants_close = True
            code = int(ev.error_code) if ev.error_code is not None else None  # h2 sets it from every GOAWAY
            events.append(ConnectionClosed(f"peer sent GOAWAY ({ev.error_code!s})", code, ev.last_stream_id))
        else:
            self._translate_more(ev, merged, events)

    def _translate_more(self, ev, merged: list, events: list[Event]) -> None:
        """Role-specific events (requests on a server, responses on a client)."""

    def _peer_reset(self, ev, events: list[Event]) -> None:
        st = self._streams.pop(ev.stream_id, None)
        if st is None:
            return
        self._out_total -= st.out_bytes
        if st.unconsumed:
            self._conn.acknowledge_received_data(st.unconsumed, ev.stream_id)
        events.append(StreamReset(ev.stream_id, f"peer reset the stream ({ev.error_code!s})", int(ev.error_code)))
        if st.send is not Send.CLOSED:
            self._reset_early(ev.stream_id, events)

    def _reset_early(self, stream_id: int, events: list[Event]) -> None:
        """A stream of the peer's ended before its response: reset by the peer (CVE-2023-44487), or
        refused or rejected here (each costs an RST_STREAM). Too many among its last streams is a flood."""
        if not self.client_side and stream_id in self._recent_set:
            self._recent_resets.add(stream_id)
            if len(self._recent_resets) > self.limits.h2_rapid_reset_max:
                events.append(
                    self._calm(
                        "h2_rapid_reset",
                        f"more than {self.limits.h2_rapid_reset_max} of the last "
                        f"{self.limits.h2_rapid_reset_window} streams reset before their response",
                    )
                )

    def _malformed(self, stream_id: int, reason: str, events: list[Event]) -> None:
        """A malformed message on a stream (RFC 9113 8.1.1): a stream error, RST_STREAM(PROTOCOL_ERROR)."""
        st = self._streams.get(stream_id)
        if st is not None:
            _count(self.stats, "h2_protocol_error" if self.client_side else "h2_rejected_request")
            self._reset(stream_id, st, ErrorCodes.PROTOCOL_ERROR)
            events.append(ProtocolViolation(reason, error_code=PROTOCOL_ERROR, stream_id=stream_id))
            self._reset_early(stream_id, events)

    def _opened(self, stream_id: int) -> _Stream:
        st = _Stream()
        self._streams[stream_id] = st
        self._recent.append(stream_id)
        self._recent_set.add(stream_id)
        if len(self._recent) > self.limits.h2_rapid_reset_window:
            old = self._recent.popleft()
            self._recent_set.discard(old)
            self._recent_resets.discard(old)
        return st

    def _calm(self, stat: str, reason: str, code: int = ENHANCE_YOUR_CALM) -> ProtocolViolation:
        _count(self.stats, stat)
        self._conn.close_connection(error_code=code, additional_data=reason.encode())
        self._die()
        return ProtocolViolation(reason, error_code=code)

    def _die(self) -> None:
        self._dead = True
        self.wants_close = True

    def _maybe_forget(self, stream_id: int) -> None:
        st = self._streams.get(stream_id)
        if st is not None and st.receive is Receive.CLOSED and st.send is Send.CLOSED and not st.unconsumed:
            del self._streams[stream_id]
        if (self._draining or self._peer_last is not None) and not self._streams:
            self.wants_close = True

    # ----------------------------------------------------------------------------------- output
    def data_to_send(self) -> bytes:
        if self.close_unflushed:
            return b""
        self._guard.acks_taken()
        out = self._conn.data_to_send() + bytes(self._extra)
        self._extra.clear()
        flood = self._outbound.add(out) if out else None
        if flood is not None:  # the peer makes us answer and does not read: give up on it
            _count(self.stats, flood[0])
            self._die()
            self.close_unflushed = True
            return b""
        return out

    def note_unwritten(self, n: int) -> None:
        self._outbound.unwritten(n)

    def pending_events(self) -> list[Event]:
        return []

    def _live(self, stream_id: int) -> _Stream | None:
        st = self._streams.get(stream_id)
        if st is not None and not self._dead:
            return st
        if stream_id <= 0 or stream_id > max(
            self._conn.highest_inbound_stream_id, self._conn.highest_outbound_stream_id
        ):
            raise CodecUsageError(f"unknown stream {stream_id}")
        return None  # reset, finished or connection gone: ignore

    def _check_header_list(self, block: Headers) -> None:
        """RFC 9113 6.5.2: never send a field section over the peer's SETTINGS_MAX_HEADER_LIST_SIZE."""
        limit = self._conn.remote_settings.max_header_list_size
        if limit is not None:
            size = header_list_size(block)
            if size > limit:
                _count(self.stats, "h2_header_list_too_large")
                raise HeaderListTooLarge(size, limit)

    def _send_headers(self, stream_id: int, block: Headers, end_stream: bool) -> None:
        self._check_header_list(block)
        try:
            self._conn.send_headers(stream_id, block, end_stream=end_stream)
        except h2.exceptions.ProtocolError as e:
            raise CodecUsageError(f"stream {stream_id}: h2 refused the headers: {e}") from None

    def _body_call(self, stream_id: int) -> _Stream | None:
        st = self._live(stream_id)
        if st is None:
            return None
        SEND.after(st.send, Ev.DATA, stream_id, CodecUsageError)  # the head is out, the body open
        return st

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        st = self._body_call(stream_id)
        if st is None:
            return
        if data:
            st.out.append(bytes(data))
            st.out_bytes += len(data)
            self._out_total += len(data)
        if end_stream:
            st.send = SEND.after(st.send, Ev.END, stream_id)
        self._flush_stream(stream_id)

    def send_trailers(self, stream_id: int, headers: Headers) -> None:
        st = self._body_call(stream_id)
        if st is None:
            return
        trailers = sendable_trailers(_outbound(headers))
        self._check_header_list(trailers)
        st.out_trailers = trailers
        st.send = SEND.after(st.send, Ev.END, stream_id)
        self._flush_stream(stream_id)

    def buffered_outbound(self, stream_id: int) -> int:
        """Bytes the owner sent on the stream that still wait for the peer's window."""
        st = self._streams.get(stream_id)
        return st.out_bytes if st is not None else 0

    def buffered_outbound_total(self) -> int:
        """Bytes the owner sent that still wait for the peer's windows, all streams together."""
        return self._out_total

    def _flush_stream(self, stream_id: int) -> None:
        st = self._streams.get(stream_id)
        if st is None or self._dead or (st.send is not Send.OPEN and st.send is not Send.ENDING):
            return
        conn = self._conn
        while st.out:
            window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
            if window <= 0:
                return
            chunk = st.out[0]
            piece = chunk[:window]
            if len(piece) == len(chunk):
                st.out.popleft()
            else:
                st.out[0] = chunk[window:]
            st.out_bytes -= len(piece)
            self._out_total -= len(piece)
            last = not st.out and st.send is Send.ENDING and st.out_trailers is None
            conn.send_data(stream_id, piece, end_stream=last)
            if last:
                st.send = SEND.after(st.send, Ev.SENT, stream_id)
        if st.send is Send.ENDING:
            if st.out_trailers:  # trailers left empty by the hop-by-hop strip: a plain end of stream
                self._send_headers(stream_id, st.out_trailers, True)
            else:
                conn.end_stream(stream_id)
            st.send = SEND.after(st.send, Ev.SENT, stream_id)
        if st.send is Send.CLOSED:
            self._maybe_forget(stream_id)

    def reset_stream(self, stream_id: int, reason: str = "reset by owner") -> None:
        st = self._live(stream_id)
        if st is None:
            return
        self._reset(stream_id, st, ErrorCodes.CANCEL)

    def _reset(self, stream_id: int, st: _Stream, code: ErrorCodes) -> None:
        try:
            self._conn.reset_stream(stream_id, error_code=code)
        except h2.exceptions.StreamClosedError:
            pass  # both directions already ended in h2 (kept here only for unconsumed bytes): nothing to send
        if st.unconsumed:
            self._conn.acknowledge_received_data(st.unconsumed, stream_id)
        if self._streams.pop(stream_id, None) is not None:
            self._out_total -= st.out_bytes
        self._maybe_forget(stream_id)  # closes a draining connection once it has no stream left

    def consume(self, stream_id: int, n: int) -> None:
        if n < 0:
            raise CodecUsageError("cannot consume a negative amount")
        st = self._live(stream_id)
        if st is None or n == 0:
            return
        if n > st.unconsumed:
            raise CodecUsageError(f"stream {stream_id}: consumed {n} bytes but only {st.unconsumed} are unconsumed")
        st.unconsumed -= n
        self._conn.acknowledge_received_data(n, stream_id)
        self._maybe_forget(stream_id)

    def goaway(self) -> None:
        """Graceful: GOAWAY(NO_ERROR) naming the last stream we accept; in-flight streams finish."""
        if self._dead or self._draining:
            return
        self._draining = True
        last = self._conn.highest_inbound_stream_id
        self._extra += GoAwayFrame(0, last_stream_id=last, error_code=0).serialize()
        self._last_accepted = self._conn.goaway_last = last
        if not self._streams:
            self.wants_close = True


class H2ServerCodec(_H2Codec, ServerCodec):
    client_side = False

    @property
    def request_started(self) -> bool:
        # A header block left open (CONTINUATION still to come): nghttp2, under Envoy, has the stream
        # from its HEADERS frame, so the stream idle timeout bounds it; here no timer did.
        return not self._dead and self._guard.in_header_block

    def time_out_request(self) -> int | None:
        """HPACK is in the middle of the open header block: no stream can be answered, and no other
        frame may come before its end, so the connection ends (GOAWAY NO_ERROR). None: no status."""
        if self.request_started:
            self._calm("h2_header_block_timeout", "header block not completed in time", int(ErrorCodes.NO_ERROR))
        return None

    def _translate_more(self, ev, merged: list, events: list[Event]) -> None:
        if not isinstance(ev, h2.events.RequestReceived):
            return
        sid = ev.stream_id
        block = _block(ev.headers)
        end = ev.stream_ended is not None
        if end:
            merged.append(ev.stream_ended)
        st = self._opened(sid)
        if end:
            st.receive = RECEIVE.after(st.receive, Ev.END_STREAM, sid)
        if self._draining and sid > self._last_accepted:
            self._reset(sid, st, ErrorCodes.REFUSED_STREAM)
            return
        if self._conn.open_inbound_streams > self.limits.h2_max_concurrent_streams:
            _count(self.stats, "h2_too_many_streams")  # refused before the owner hears of it: safe to retry
            self._reset(sid, st, ErrorCodes.REFUSED_STREAM)
            self._reset_early(sid, events)
            return
        reason = check_h2_request_for_downgrade(block)
        if reason is None and _regular_fields(block) > self.limits.max_headers:
            # CodecLimits.max_headers binds every codec (Envoy's max_headers_count: "a stream reset
            # for HTTP/2"); HTTP/1.1's answers 431. An HTTP/2 request with 150 fields went upstream.
            reason = f"more than {self.limits.max_headers} header fields"
        if reason is not None:
            self._malformed(sid, reason, events)
            return
        lengths = [v for n, v in block if n == b"content-length"]
        if end and lengths and int(lengths[0]) != 0:
            # h2 checks content-length against DATA only when DATA arrives: a request ended by its
            # HEADERS would go upstream promising a body it does not have.
            self._malformed(sid, "content-length with no body", events)
            return
        pseudo = {n: v for n, v in block if n.startswith(b":")}
        host = next((v for n, v in block if n == b"host"), b"")
        regular = [
            (n, v) for n, v in strip_hop_by_hop([(n, v) for n, v in block if not n.startswith(b":")]) if n != b"host"
        ]
        if len(lengths) > 1:  # equal values (checked above): forward one, never a duplicate
            first = regular.index((b"content-length", lengths[0]))
            regular = regular[: first + 1] + [f for f in regular[first + 1 :] if f[0] != b"content-length"]
        if lengths:
            st.body_left = int(lengths[0])  # checked again when trailers end the stream
        # Expect: 100-continue is the connection manager's to answer, as for HTTP/1.1 (Envoy answers it
        # itself and strips it whatever the protocol): a client waiting for the 100 before its body got
        # none and stalled (curl: its 1 s expect timeout on every upload).
        expect = any(n == b"expect" and v.lower() == b"100-continue" for n, v in regular)
        if expect:
            regular = [f for f in regular if f[0] != b"expect"]
        events.append(
            RequestHeaders(
                sid,
                pseudo[b":method"],
                pseudo[b":path"],
                pseudo.get(b":authority", host),
                pseudo[b":scheme"],
                regular,
                end_stream=end,
                expect_continue=expect and not end,
                http_version=b"2",
            )
        )

    def send_headers(self, stream_id: int, status: int, headers: Headers, end_stream: bool = False) -> None:
        st = self._live(stream_id)
        if st is None:
            return
        informational = status < 200
        SEND.after(st.send, Ev.INFORMATIONAL if informational else Ev.HEADERS, stream_id, CodecUsageError)
        if not 100 <= status <= 999 or status == 101:
            raise CodecUsageError(f"invalid status {status}")
        if informational and end_stream:
            raise CodecUsageError("an informational response cannot end the stream")
        self._send_headers(stream_id, [(b":status", str(status).encode())] + _outbound(headers), end_stream)
        if not informational:
            self._guard.opened_streams += 1
            st.send = head_sent(st.send, end_stream, stream_id)
            if end_stream:
                self._maybe_forget(stream_id)


class H2ClientCodec(_H2Codec, ClientCodec):
    client_side = True

    def can_send_request(self) -> bool:
        conn = self._conn
        return (
            not self._dead
            and not self._draining
            and self._peer_last is None
            and conn.open_outbound_streams < conn.remote_settings.max_concurrent_streams
        )

    def send_request_headers(
        self,
        method: bytes,
        target: bytes,
        authority: bytes,
        headers: Headers,
        end_stream: bool = False,
        scheme: bytes = b"http",
    ) -> int:
        if not self.can_send_request():
            raise CodecUsageError("no stream slot free or connection closing: check can_send_request()")
        sid = self._conn.get_next_available_stream_id()
        block = [(b":method", method), (b":scheme", scheme), (b":authority", authority), (b":path", target)]
        self._send_headers(sid, block + _outbound(headers), end_stream)
        self._guard.opened_streams += 1
        self._streams[sid] = _Stream(send=head_sent(Send.IDLE, end_stream, sid))
        return sid

    def _translate_more(self, ev, merged: list, events: list[Event]) -> None:
        if isinstance(ev, h2.events.InformationalResponseReceived):
            block = _block(ev.headers)
            status = _status(block)
            if status is None:
                self._malformed(ev.stream_id, ":status is not three digits", events)
            elif ev.stream_id in self._streams:
                events.append(
                    InformationalResponse(ev.stream_id, status, [(n, v) for n, v in block if not n.startswith(b":")])
                )
        elif isinstance(ev, h2.events.ResponseReceived):
            block = _block(ev.headers)
            end = ev.stream_ended is not None
            if end:
                merged.append(ev.stream_ended)
            st = self._streams.get(ev.stream_id)
            if st is None:
                return
            if end:
                st.receive = RECEIVE.after(st.receive, Ev.END_STREAM, ev.stream_id)
            status = _status(block)
            if status is None:
                self._malformed(ev.stream_id, ":status is not three digits", events)
                return
            if _regular_fields(block) > self.limits.max_headers:
                # CodecLimits.max_headers binds every codec: the HTTP/1.1 client refuses a response
                # with more fields (503), and so does this one now (it forwarded 1500).
                self._malformed(ev.stream_id, f"more than {self.limits.max_headers} header fields", events)
                return
            events.append(
                ResponseHeaders(
                    ev.stream_id, status, [(n, v) for n, v in block if not n.startswith(b":")], end, http_version=b"2"
                )
            )
            self._maybe_forget(ev.stream_id)
