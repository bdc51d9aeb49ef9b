"""Frame-header scanners that run beside h2 on the raw bytes, and the flood limits they enforce.

FrameGuard runs ahead of h2 on the inbound bytes. It finds frame boundaries (so the codec can feed
h2 one frame at a time: the events are then the same however the bytes were split) and spots floods
from the 9-byte frame headers alone, before h2 buffers the payloads: CONTINUATION floods, PING /
SETTINGS frames whose ACKs pile up unsent; on whole frames, runs of frames with an empty payload and
more PRIORITY or WINDOW_UPDATE frames than the streams opened and DATA frames sent account for.
OutboundFrames counts the frames the codec handed out that are not on the socket yet.
"""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from proxy.http.codec import CodecLimits

PROTOCOL_ERROR, FRAME_SIZE_ERROR, ENHANCE_YOUR_CALM = 0x1, 0x6, 0xB
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY = 0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7
WINDOW_UPDATE, CONTINUATION = 0x8, 0x9
END_STREAM, END_HEADERS, PADDED, ACK = 0x1, 0x4, 0x8, 0x1
R = TypeVar("R")  # what a frame-header callback stops the walk with


@dataclass(frozen=True)
class Violation:
    offset: int  # bytes of this chunk before the offending frame: feed those, then stop
    stat: str
    reason: str
    error_code: int = ENHANCE_YOUR_CALM


class _FrameWalker:
    """Finds the frame headers in a byte stream that arrives in pieces (after `skip` preface bytes)."""

    def __init__(self, skip: int) -> None:
        self._skip = skip
        self._header = bytearray()
        self._payload_left = 0

    def _walk(self, data: bytes, on_header: Callable[[bytes, int, int], R | None]) -> tuple[list[int], R | None]:
        """Calls on_header(header, frame_start, header_end) for every frame header completed in data
        (frame_start < 0: the header began in an earlier piece); a result other than None stops the
        walk. Returns the offsets where frames (or the preface) ended before the stop, and the result."""
        cuts: list[int] = []
        pos, end = 0, len(data)
        if self._skip:
            pos = min(self._skip, end)
            self._skip -= pos
            if self._skip:
                return cuts, None
            cuts.append(pos)
        if self._payload_left and pos < end:  # a frame begun in an earlier piece
            take = min(self._payload_left, end - pos)
            self._payload_left -= take
            pos += take
            if self._payload_left:
                return cuts, None
            cuts.append(pos)
        partial = self._header
        while pos < end:  # one turn per frame: its header, then as much of its payload as is here
            if partial:  # a header begun in an earlier piece
                frame_start = pos - len(partial)
                take = min(9 - len(partial), end - pos)
                partial += data[pos : pos + take]
                pos += take
                if len(partial) < 9:
                    return cuts, None
                header = bytes(partial)
                partial.clear()
            elif end - pos >= 9:
                frame_start, header = pos, bytes(data[pos : pos + 9])
                pos += 9
            else:
                partial += data[pos:end]
                return cuts, None
            stop = on_header(header, frame_start, pos)
            if stop is not None:
                return cuts, stop
            length = int.from_bytes(header[:3], "big")
            if end - pos < length:
                self._payload_left = length - (end - pos)
                return cuts, None
            pos += length
            cuts.append(pos)
        return cuts, None


class FrameGuard(_FrameWalker):
    def __init__(self, limits: CodecLimits, preface_len: int) -> None:
        super().__init__(preface_len)  # the client preface precedes the first frame on a server
        self._limits = limits
        self.outbound: OutboundFrames | None = None  # the codec's: it counts the DATA frames sent
        self.opened_streams = 0  # the codec counts the streams it opened (response or request headers sent)
        self._priority_frames = 0
        self._window_updates = 0
        self._expect_settings = preface_len > 0  # RFC 9113 3.4: the preface ends with a SETTINGS frame
        self._preface_frame = preface_len > 0  # the first whole "frame" a server's codec feeds is the preface
        self._in_block = False
        self._continuations = 0
        self._block_bytes = 0
        self._empty_frames = 0
        self.pending_ping_acks = 0
        self.pending_settings_acks = 0

    @property
    def in_header_block(self) -> bool:
        """A HEADERS frame without END_HEADERS was seen and its last CONTINUATION was not."""
        return self._in_block

    def acks_taken(self) -> None:
        """The owner took data_to_send(): the queued ACKs are on their way."""
        self.pending_ping_acks = 0
        self.pending_settings_acks = 0

    def scan(self, data: bytes) -> tuple[list[int], Violation | None]:
        """Returns the offsets in data where complete frames end, and the first violation if any."""
        return self._walk(data, self._on_header)

    def _on_header(self, header: bytes, frame_start: int, _end: int) -> Violation | None:
        violation = self._check(header)
        return None if violation is None else Violation(max(frame_start, 0), *violation)

    def whole_frame(self, frame: bytes) -> tuple | None:
        """Envoy's max_consecutive_inbound_frames_with_empty_payload (CVE-2019-9518): DATA, HEADERS
        and CONTINUATION frames that carry nothing but padding and do not end the stream have no
        legitimate use, yet each costs a frame's processing. Returns (stat, reason) over the limit."""
        if self._preface_frame:
            self._preface_frame = False
            return None
        kind, flags = frame[3], frame[4]
        if kind == PRIORITY or kind == WINDOW_UPDATE:
            return self._control_flood(kind)
        if kind not in (DATA, HEADERS, CONTINUATION):
            return None
        length = len(frame) - 9
        padding = frame[9] + 1 if kind != CONTINUATION and flags & PADDED and length else 0
        if length > padding or (kind != CONTINUATION and flags & END_STREAM):
            self._empty_frames = 0
            return None
        self._empty_frames += 1
        if self._empty_frames > self._limits.h2_max_consecutive_empty_frames:
            return (
                "h2_inbound_empty_frames_flood",
                f"more than {self._limits.h2_max_consecutive_empty_frames} frames in a row with an empty payload",
            )
        return None

    def _control_flood(self, kind: int) -> tuple | None:
        """Envoy's max_inbound_priority_frames_per_stream and
        max_inbound_window_update_frames_per_data_frame_sent (Envoy 1.11.1, CVE-2019-9513): each such frame
        costs a frame's processing and carries nothing a request needs beyond what the streams opened
        and the DATA frames sent justify (RFC 9218 deprecates PRIORITY; a receiver needs about one
        WINDOW_UPDATE per DATA frame, for its stream and its connection). Counted over the
        connection's life, as Envoy does."""
        limits = self._limits
        opened = self.opened_streams
        if kind == PRIORITY:
            self._priority_frames += 1
            allowed = limits.h2_max_inbound_priority_frames_per_stream * (1 + opened)
            if self._priority_frames > allowed:
                return "h2_inbound_priority_frames_flood", f"more than {allowed} PRIORITY frames for {opened} streams"
            return None
        self._window_updates += 1
        sent = self.outbound.data_frames if self.outbound is not None else 0
        allowed = 5 + 2 * (opened + limits.h2_max_inbound_window_update_frames_per_data_frame_sent * sent)
        if self._window_updates > allowed:
            return (
                "h2_inbound_window_update_frames_flood",
                f"more than {allowed} WINDOW_UPDATE frames for {opened} streams and {sent} DATA frames sent",
            )
        return None

    def _check(self, header: bytes) -> tuple | None:
        length = int.from_bytes(header[:3], "big")
        kind, flags = header[3], header[4]
        limits = self._limits
        if self._expect_settings:
            self._expect_settings = False
            if kind != SETTINGS or flags & ACK:
                return "h2_protocol_error", "the client preface is not followed by SETTINGS", PROTOCOL_ERROR
        if length > limits.h2_max_frame_size:
            # h2 would buffer the whole frame (up to 16 MiB) before looking at its length.
            return "h2_frame_too_large", f"frame of {length} bytes over the maximum frame size", FRAME_SIZE_ERROR
        if kind in (HEADERS, PUSH_PROMISE):
            self._in_block = not flags & END_HEADERS
            self._continuations = 0
            self._block_bytes = length
        elif kind == CONTINUATION and self._in_block:
            self._continuations += 1
            self._block_bytes += length
            if flags & END_HEADERS:
                self._in_block = False
            if self._continuations > limits.h2_max_continuation_frames:
                return "h2_continuation_flood", f"more than {limits.h2_max_continuation_frames} CONTINUATION frames"
            if self._block_bytes > limits.max_header_bytes:
                return "h2_continuation_flood", "header block larger than the limit before END_HEADERS"
        elif kind == PING and not flags & ACK:
            self.pending_ping_acks += 1
            if self.pending_ping_acks > limits.h2_max_pending_control_acks:
                return "h2_ping_flood", "too many PINGs with their ACKs not yet sent"
        elif kind == SETTINGS and not flags & ACK:
            self.pending_settings_acks += 1
            if self.pending_settings_acks > limits.h2_max_pending_control_acks:
                return "h2_settings_flood", "too many SETTINGS with their ACKs not yet sent"
        return None


class OutboundFrames(_FrameWalker):
    """Envoy's max_outbound_frames / max_outbound_control_frames (CVE-2019-9512, -9515): frames the
    codec handed out that are not on the socket yet, all of them and PING / SETTINGS ACKs with
    RST_STREAM, bounded so that a peer which makes us answer but never reads cannot grow our queue."""

    def __init__(self, limits: CodecLimits, preface_len: int) -> None:
        super().__init__(preface_len)  # a client's preface is not a frame
        self._limits = limits
        self._ends: deque[tuple[int, bool]] = deque()  # per frame queued: its end offset, a control frame?
        self._taken = 0  # bytes handed out so far
        self._written: int | None = None  # offset up to which the owner says they are on the socket
        self._base = 0
        self.control = 0
        self.data_frames = 0  # DATA frames handed out over the connection's life (FrameGuard's WINDOW_UPDATE limit)

    def unwritten(self, n: int) -> None:
        self._written = max(0, self._taken - n)

    def add(self, out: bytes) -> tuple | None:
        """The codec hands `out` to its owner. Returns (stat, reason) when the queue is over a limit."""
        written = self._taken if self._written is None else self._written
        self._written = None
        ends = self._ends
        while ends and ends[0][0] <= written:
            self.control -= ends.popleft()[1]
        self._base = self._taken
        self._taken += len(out)
        self._walk(out, self._record)
        limits = self._limits
        if len(ends) > limits.h2_max_outbound_frames:
            return (
                "h2_outbound_flood",
                f"more than {limits.h2_max_outbound_frames} frames queued for a peer that does not read",
            )
        if self.control > limits.h2_max_outbound_control_frames:
            return (
                "h2_outbound_control_flood",
                f"more than {limits.h2_max_outbound_control_frames} PING/SETTINGS ACKs and RST_STREAMs queued",
            )
        return None

    def _record(self, header: bytes, _start: int, end: int) -> None:
        kind = header[3]
        self.data_frames += kind == DATA
        control = kind == RST_STREAM or (kind in (PING, SETTINGS) and bool(header[4] & ACK))
        self._ends.append((self._base + end + int.from_bytes(header[:3], "big"), control))
        self.control += control
