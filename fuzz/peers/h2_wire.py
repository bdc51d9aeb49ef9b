"""An independent HTTP/2 wire monitor: one connection's two byte streams, frame by frame.

It judges the frames of one side (`judged`: the proxy) against the SETTINGS the other side (the
peer) advertised, with nothing but frame headers, its own stream table and its own windows (no
h2 state machine: an oracle built on the library under the proxy would share its mistakes).
Settings take effect when the judged side acknowledges them (RFC 9113 6.5.3: frames it wrote
before its ACK may still use the old values); the peer's WINDOW_UPDATEs, stream ends and resets
are applied as the peer writes them, which is ahead of the proxy reading them, so every doubt
goes the proxy's way.

InvariantViolation names (RFC 9113 sections):
- h2_wire_frame_too_large      a frame longer than the peer's SETTINGS_MAX_FRAME_SIZE (4.2)
- h2_wire_window_exceeded      DATA beyond the stream or connection send window (6.9.1)
- h2_wire_window_overflow      a WINDOW_UPDATE taking the peer's window past 2^31-1 (6.9.1)
- h2_wire_streams_exceeded     a new stream over the peer's SETTINGS_MAX_CONCURRENT_STREAMS (5.1.2)
- h2_wire_streams_before_settings  (`one_stream_before_settings`: the proxy's upstream pool) a second
                               stream open before the judged client acknowledged the peer's first
                               SETTINGS: the peer's limit is unknown until then (6.5.2: none), so
                               streams over a limit its preface announces would be refused
                               (docs/semantics.md, HTTP/2 upstream stream limit)
- h2_wire_bad_stream_id        a stream opened with a wrong parity or a non-increasing id (5.1.1)
- h2_wire_frame_on_closed_stream  DATA or HEADERS after the sender ended or reset the stream,
                                  or on a stream never opened (5.1)
- h2_wire_continuation         anything but CONTINUATION of the same stream inside a header block (6.10)
- h2_wire_unearned_frame_size_error  GOAWAY or RST_STREAM(FRAME_SIZE_ERROR) although every frame the
                                  peer sent was within the SETTINGS_MAX_FRAME_SIZE the judged side had
                                  advertised when the peer sent it (4.2: an endpoint MUST accept
                                  frames up to the size it advertised)
- h2_wire_goaway_last_stream_raised  a GOAWAY whose last stream id is above an earlier one's (6.8:
                                  "Endpoints MUST NOT increase the value they send in the last
                                  stream identifier")
- h2_wire_unearned_refused_stream  RST_STREAM(REFUSED_STREAM) on a stream the peer opened while it had
                               fewer streams open than the judged side's own SETTINGS_MAX_CONCURRENT_STREAMS
                               (5.1.2: that many may be open), the stream not excused by a GOAWAY whose last
                               stream id is below it (a draining server refuses new streams); judged once
                               the connection's bytes are all seen (`check_refusals`)
- h2_wire_hpack_table_too_large  a header block whose dynamic table size update is above the peer's
                               SETTINGS_HEADER_TABLE_SIZE (RFC 7541 4.2, 6.3: a decoding error), or above
                               4096 bytes whatever the peer allows: that setting bounds the decoder, not
                               the encoder, and nghttp2 (Envoy's codec) keeps its encoder's table at 4 KiB,
                               so a peer announcing 4 GiB cannot make the proxy hold every header it sends
- h2_wire_frame_after_goaway   HEADERS or DATA on a stream the peer opened above the last stream id of
                               a GOAWAY the judged side sent (6.8: such streams "were not or will not
                               be processed", and the peer may retry them elsewhere: answering one
                               duplicates the request)
"""

from typing import NoReturn

from ..oracles import InvariantViolation

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
MAX_WINDOW = 2**31 - 1
# RFC 9113 6.5.2 initial values (MAX_CONCURRENT_STREAMS: no limit).
DEFAULTS = {0x1: 4_096, 0x3: None, 0x4: 65_535, 0x5: 16_384, 0x6: None}
S_HEADER_TABLE_SIZE = 0x1
ENCODER_TABLE_BOUND = 4_096  # nghttp2's encoder table, whatever the peer allows
PADDED, PRIORITY_FLAG = 0x8, 0x20
FRAME_SIZE_ERROR, REFUSED_STREAM = 0x6, 0x7
S_MAX_CONCURRENT_STREAMS, S_INITIAL_WINDOW_SIZE, S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE = 0x3, 0x4, 0x5, 0x6


class _Stream:
    __slots__ = ("by_judged", "judged_end", "peer_end", "judged_reset", "peer_reset", "window")

    def __init__(self, by_judged: bool, window: int) -> None:
        self.by_judged = by_judged
        self.judged_end = self.peer_end = self.judged_reset = self.peer_reset = False
        self.window = window  # what the judged side may still send on it

    @property
    def closed(self) -> bool:
        return self.judged_reset or self.peer_reset or (self.judged_end and self.peer_end)


class _Splitter:
    """Frames out of a byte stream: (type, flags, stream id, payload), after an optional preface."""

    __slots__ = ("buf", "skip")

    def __init__(self, preface: bool) -> None:
        self.buf = bytearray()
        self.skip = len(PREFACE) if preface else 0

    def frames(self, data: bytes):
        self.buf += data
        if self.skip:
            n = min(self.skip, len(self.buf))
            del self.buf[:n]
            self.skip -= n
        buf = self.buf
        while len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + length:
                break
            frame = (buf[3], buf[4], int.from_bytes(buf[5:9], "big") & MAX_WINDOW, bytes(buf[9 : 9 + length]), length)
            del buf[: 9 + length]
            yield frame


def _hpack_int(data: bytes, prefix: int) -> tuple[int, bytes]:
    """RFC 7541 5.1: an integer with an N-bit prefix, and the bytes after it."""
    mask = (1 << prefix) - 1
    value, i = data[0] & mask, 1
    if value == mask:
        shift = 0
        while i < len(data):
            value += (data[i] & 0x7F) << shift
            shift += 7
            i += 1
            if not data[i - 1] & 0x80:
                break
    return value, data[i:]


def _fail(name: str, detail: str) -> NoReturn:
    raise InvariantViolation(name, detail)


class H2Monitor:
    """Feed `judged(data)` with what the judged side wrote and `peer(data)` with what the peer
    wrote, each in order. `judged_is_client`: the judged side sends the connection preface."""

    def __init__(self, judged_is_client: bool, label: str = "proxy", one_stream_before_settings: bool = False) -> None:
        self.label = label
        self.judged_is_client = judged_is_client
        self.one_stream_before_settings = one_stream_before_settings
        self.settings_acked = False  # the judged side acknowledged one of the peer's SETTINGS
        self._judged = _Splitter(judged_is_client)
        self._peer = _Splitter(not judged_is_client)
        self.settings = dict(DEFAULTS)  # the peer's settings the judged side must honour now
        self._pending: list[dict] = []  # peer SETTINGS not yet acknowledged by the judged side
        self.header_list_limits: list = []  # see judged()
        self.conn_window = 65_535  # judged -> peer, connection level
        self.peer_conn_window = 65_535  # peer -> judged, only for the overflow check
        self._peer_initial = 65_535  # judged side's own INITIAL_WINDOW_SIZE, as it advertised
        self._judged_max_frame = DEFAULTS[S_MAX_FRAME_SIZE]  # judged side's own MAX_FRAME_SIZE, as advertised
        self.peer_oversized = False  # the peer sent a frame over what the judged side advertised
        self._peer_windows: dict[int, int] = {}
        self.streams: dict[int, _Stream] = {}
        self.last_judged_id = 0
        self.header_block: int | None = None  # stream whose header block the judged side is in
        self.on_frame = None  # callable(type, flags, sid, payload) per judged frame
        self.goaway_last: int | None = None  # the last stream id of the judged side's latest GOAWAY
        self.judged_max_streams: int | None = None  # the judged side's SETTINGS_MAX_CONCURRENT_STREAMS, as read
        self._opened_with: dict[int, int] = {}  # stream the peer opened -> its other streams open then
        self.refused_within_limit: list[int] = []

    # -- the peer's frames: what it advertised, credited, ended and reset --------------------
    def peer(self, data: bytes) -> None:
        for ftype, flags, sid, payload, length in self._peer.frames(data):
            if length > self._judged_max_frame:
                self.peer_oversized = True
            if ftype == SETTINGS and not flags & ACK:
                self._pending.append(
                    {
                        int.from_bytes(payload[i : i + 2], "big"): int.from_bytes(payload[i + 2 : i + 6], "big")
                        for i in range(0, len(payload) - 5, 6)
                    }
                )
            elif ftype == WINDOW_UPDATE and len(payload) == 4:
                inc = int.from_bytes(payload, "big") & MAX_WINDOW
                if sid == 0:
                    self.conn_window += inc
                elif sid in self.streams:
                    self.streams[sid].window += inc
            elif ftype in (HEADERS, DATA) and sid:
                if sid not in self.streams and ftype == HEADERS and self._peer_opens(sid):
                    self._note_open(sid)
                st = self._stream(sid, by_judged=False)
                if flags & END_STREAM:
                    st.peer_end = True
                if ftype == DATA:
                    self._peer_windows[sid] = self._peer_windows.get(sid, self._peer_initial) - len(payload)
                    self.peer_conn_window -= len(payload)
            elif ftype == RST_STREAM and sid in self.streams:
                self.streams[sid].peer_reset = True

    def _note_open(self, sid: int) -> None:
        """The peer opens `sid`: remember how many of its streams were open then. Streams count as open
        until the monitor saw them end both ways or reset; the peer's ends and resets are applied as
        written, the judged side's as read, so the count is never below the judged side's own when it
        reads this HEADERS. The judged side's limit is compared when it refuses the stream: its
        SETTINGS come before that RST_STREAM on the wire, and it enforces them from its first byte."""
        self._opened_with[sid] = sum(1 for s in self.streams.values() if not s.by_judged and not s.closed)

    def check_refusals(self) -> None:
        """Once the connection's bytes are all seen: no stream refused (REFUSED_STREAM) although opened
        within the judged side's advertised limit, unless a GOAWAY named a lower last stream id."""
        last = self.goaway_last
        refused = [sid for sid in self.refused_within_limit if last is None or sid <= last]
        if refused:
            _fail(
                "h2_wire_unearned_refused_stream",
                f"the {self.label} refused stream {refused[0]} (REFUSED_STREAM) that the peer opened with "
                f"{self._opened_with[refused[0]]} other streams open, below the "
                f"SETTINGS_MAX_CONCURRENT_STREAMS {self.judged_max_streams} the {self.label} advertised",
            )

    def _stream(self, sid: int, by_judged: bool) -> _Stream:
        st = self.streams.get(sid)
        if st is None:
            window = self.settings[S_INITIAL_WINDOW_SIZE]
            assert window is not None, "it has a default (65,535), and a SETTINGS value is a number"
            st = self.streams[sid] = _Stream(by_judged, window)
        return st

    # -- the judged side's frames --------------------------------------------------------------
    def judged(self, data: bytes) -> list:
        """Check every complete frame in `data`; returns them as (type, flags, stream id, payload)."""
        out = []
        # The peer's SETTINGS_MAX_HEADER_LIST_SIZE in effect at each frame returned: the peer's own
        # decoder judges header blocks after this call, when a later ACK may have changed it.
        self.header_list_limits = []
        for ftype, flags, sid, payload, length in self._judged.frames(data):
            self._check(ftype, flags, sid, payload, length)
            out.append((ftype, flags, sid, payload))
            self.header_list_limits.append(self.settings[S_MAX_HEADER_LIST_SIZE])
        return out

    def _check(self, ftype, flags, sid, payload, length) -> None:
        where = f"{self.label} {_NAMES.get(ftype, ftype)} frame on stream {sid}"
        if length > self.settings[S_MAX_FRAME_SIZE]:
            _fail(
                "h2_wire_frame_too_large", f"{where}: {length} bytes, the peer allows {self.settings[S_MAX_FRAME_SIZE]}"
            )
        if self.header_block is not None:
            if ftype != CONTINUATION or sid != self.header_block:
                _fail("h2_wire_continuation", f"{where} inside the header block of stream {self.header_block}")
            if flags & END_HEADERS:
                self.header_block = None
            return
        if ftype == SETTINGS:
            if flags & ACK and self._pending:
                self._apply(self._pending.pop(0))
                self.settings_acked = True
            elif not flags & ACK:
                for i in range(0, len(payload) - 5, 6):
                    key, value = (
                        int.from_bytes(payload[i : i + 2], "big"),
                        int.from_bytes(payload[i + 2 : i + 6], "big"),
                    )
                    if key == S_INITIAL_WINDOW_SIZE:
                        for k in self._peer_windows:
                            self._peer_windows[k] += value - self._peer_initial
                        self._peer_initial = value
                    elif key == S_MAX_CONCURRENT_STREAMS:
                        # A lower limit counts from when the peer reads it; streams it opened before
                        # were judged against the old one (RFC 9113 5.1.2 lets the judged side refuse
                        # those it can no longer take: only a refusal within both counts).
                        self.judged_max_streams = (
                            value if self.judged_max_streams is None else min(value, self.judged_max_streams)
                        )
                    elif key == S_MAX_FRAME_SIZE:
                        # The peer may use it once it has read it (it has: the monitor sees the judged
                        # side's bytes as the peer reads them); a smaller one counts at once, so that
                        # doubt about frames already on the way goes the judged side's way.
                        self._judged_max_frame = value
        elif ftype == WINDOW_UPDATE and len(payload) == 4:
            self._credit_peer(sid, int.from_bytes(payload, "big") & MAX_WINDOW, where)
        elif ftype == HEADERS:
            self._table_size_updates(flags, payload, where)
            self._headers(sid, flags, where)
        elif ftype == DATA:
            self._data(sid, flags, length, where)
        elif ftype == RST_STREAM and sid in self.streams:
            self.streams[sid].judged_reset = True
            limit = self.judged_max_streams
            if payload[:4] == REFUSED_STREAM.to_bytes(4, "big") and limit is not None:
                if self._opened_with.get(sid, limit) < limit:
                    self.refused_within_limit.append(sid)
        if ftype in (GOAWAY, RST_STREAM):
            self._check_error_earned(ftype, payload[4:8] if ftype == GOAWAY else payload[:4], where)
        if ftype == GOAWAY and len(payload) >= 8:
            self._goaway(int.from_bytes(payload[:4], "big") & MAX_WINDOW, where)
        elif ftype in (HEADERS, DATA) and self.goaway_last is not None and self._peer_opens(sid):
            if sid > self.goaway_last:
                _fail(
                    "h2_wire_frame_after_goaway",
                    f"{where}: the {self.label}'s GOAWAY named {self.goaway_last} as the last stream it "
                    f"processes, so the peer counts stream {sid} as not processed (and may retry it)",
                )

    def _table_size_updates(self, flags: int, payload: bytes, where: str) -> None:
        """RFC 7541 4.2: dynamic table size updates open a header block (6.3: 001 and a 5-bit prefix)."""
        block = payload
        if flags & PADDED and block:
            block = block[1 : len(block) - block[0]]
        if flags & PRIORITY_FLAG:
            block = block[5:]
        allowed = self.settings[S_HEADER_TABLE_SIZE]
        bound = ENCODER_TABLE_BOUND if allowed is None else min(allowed, ENCODER_TABLE_BOUND)
        while block and block[0] & 0xE0 == 0x20:
            size, block = _hpack_int(block, 5)
            if size > bound:
                _fail(
                    "h2_wire_hpack_table_too_large",
                    f"{where}: a dynamic table size update to {size} bytes; the peer allows "
                    f"{allowed}, and an encoder's table stays at {ENCODER_TABLE_BOUND}",
                )

    def _peer_opens(self, sid: int) -> bool:
        """Whether stream `sid` is one the peer initiates (clients odd ids, servers even)."""
        return sid != 0 and (sid % 2 == 1) == (not self.judged_is_client)

    def _goaway(self, last: int, where: str) -> None:
        if self.goaway_last is not None and last > self.goaway_last:
            _fail(
                "h2_wire_goaway_last_stream_raised",
                f"{where}: last stream id {last}, above the {self.goaway_last} of its earlier GOAWAY",
            )
        self.goaway_last = last

    def _check_error_earned(self, ftype: int, code: bytes, where: str) -> None:
        if len(code) == 4 and int.from_bytes(code, "big") == FRAME_SIZE_ERROR and not self.peer_oversized:
            _fail(
                "h2_wire_unearned_frame_size_error",
                f"{where}: FRAME_SIZE_ERROR, but every frame the peer sent was within the "
                f"{self._judged_max_frame}-byte SETTINGS_MAX_FRAME_SIZE the {self.label} advertised",
            )

    def _apply(self, changes: dict) -> None:
        for key, value in changes.items():
            if key == S_INITIAL_WINDOW_SIZE:
                delta = value - self.settings[S_INITIAL_WINDOW_SIZE]
                for st in self.streams.values():
                    st.window += delta
            if key in self.settings:
                self.settings[key] = value

    def _credit_peer(self, sid: int, inc: int, where: str) -> None:
        if sid == 0:
            self.peer_conn_window += inc
            window = self.peer_conn_window
        else:
            window = self._peer_windows[sid] = self._peer_windows.get(sid, self._peer_initial) + inc
        if window > MAX_WINDOW:
            _fail("h2_wire_window_overflow", f"{where}: +{inc} takes the peer's window to {window}")

    def _headers(self, sid: int, flags: int, where: str) -> None:
        st = self.streams.get(sid)
        if st is None:
            if (sid % 2 == 1) != self.judged_is_client or sid <= self.last_judged_id:
                _fail("h2_wire_bad_stream_id", f"{where}: opens stream {sid} after {self.last_judged_id}")
            limit = self.settings[S_MAX_CONCURRENT_STREAMS]
            active = sum(1 for s in self.streams.values() if s.by_judged and not s.closed)
            if limit is not None and active + 1 > limit:
                _fail("h2_wire_streams_exceeded", f"{where}: stream {active + 1} open at once, the peer allows {limit}")
            if self.one_stream_before_settings and not self.settings_acked and active:
                _fail(
                    "h2_wire_streams_before_settings",
                    f"{where}: stream {active + 1} open at once before the {self.label} acknowledged the "
                    "peer's SETTINGS (its stream limit)",
                )
            self.last_judged_id = sid
            st = self._stream(sid, by_judged=True)
        elif st.judged_end or st.judged_reset:
            _fail(
                "h2_wire_frame_on_closed_stream",
                f"{where}: the {self.label} already {'reset' if st.judged_reset else 'ended'} it",
            )
        if flags & END_STREAM:
            st.judged_end = True
        if not flags & END_HEADERS:
            self.header_block = sid

    def _data(self, sid: int, flags: int, length: int, where: str) -> None:
        st = self.streams.get(sid)
        if st is None or st.judged_end or st.judged_reset:
            state = "never opened" if st is None else "reset" if st.judged_reset else "ended"
            _fail("h2_wire_frame_on_closed_stream", f"{where}: stream {state} by the {self.label}")
        if length > self.conn_window or length > st.window:
            _fail(
                "h2_wire_window_exceeded",
                f"{where}: {length} bytes, windows: connection {self.conn_window}, stream {st.window}",
            )
        self.conn_window -= length
        st.window -= length
        if flags & END_STREAM:
            st.judged_end = True


_NAMES = {
    DATA: "DATA",
    HEADERS: "HEADERS",
    PRIORITY: "PRIORITY",
    RST_STREAM: "RST_STREAM",
    SETTINGS: "SETTINGS",
    PUSH_PROMISE: "PUSH_PROMISE",
    PING: "PING",
    GOAWAY: "GOAWAY",
    WINDOW_UPDATE: "WINDOW_UPDATE",
    CONTINUATION: "CONTINUATION",
}
