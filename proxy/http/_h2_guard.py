"""A frame-header scanner that runs ahead of h2 on the raw inbound bytes.

It finds frame boundaries (so the codec can feed h2 one frame at a time: the events are then the
same however the bytes were split) and spots floods from the 9-byte frame headers alone, before h2
buffers the payloads: CONTINUATION floods, and PING / SETTINGS frames whose ACKs pile up unsent.
"""

from dataclasses import dataclass

from proxy.http.codec import CodecLimits

PROTOCOL_ERROR, FRAME_SIZE_ERROR, ENHANCE_YOUR_CALM = 0x1, 0x6, 0xB
DATA, HEADERS, SETTINGS, PUSH_PROMISE, PING, GOAWAY, CONTINUATION = 0x0, 0x1, 0x4, 0x5, 0x6, 0x7, 0x9
END_HEADERS, ACK = 0x4, 0x1


@dataclass(frozen=True)
class Violation:
    offset: int  # bytes of this chunk before the offending frame: feed those, then stop
    stat: str
    reason: str
    error_code: int = ENHANCE_YOUR_CALM


class FrameGuard:
    def __init__(self, limits: CodecLimits, preface_len: int) -> None:
        self._limits = limits
        self._skip = preface_len  # the client preface precedes the first frame on a server
        self._expect_settings = preface_len > 0  # RFC 9113 3.4: the preface ends with a SETTINGS frame
        self._header = bytearray()
        self._payload_left = 0
        self._in_block = False
        self._continuations = 0
        self._block_bytes = 0
        self.pending_ping_acks = 0
        self.pending_settings_acks = 0

    def acks_taken(self) -> None:
        """The owner took data_to_send(): the queued ACKs are on their way."""
        self.pending_ping_acks = 0
        self.pending_settings_acks = 0

    def scan(self, data: bytes) -> tuple[list[int], Violation | None]:
        """Returns the offsets in data where complete frames end, and the first violation if any."""
        cuts: list[int] = []
        pos, end = 0, len(data)
        while pos < end:
            if self._skip:
                take = min(self._skip, end - pos)
                self._skip -= take
                pos += take
                if not self._skip:
                    cuts.append(pos)
                continue
            if self._payload_left:
                take = min(self._payload_left, end - pos)
                self._payload_left -= take
                pos += take
                if not self._payload_left:
                    cuts.append(pos)
                continue
            frame_start = pos - len(self._header)
            take = min(9 - len(self._header), end - pos)
            self._header += data[pos:pos + take]
            pos += take
            if len(self._header) < 9:
                break
            header, self._header = bytes(self._header), bytearray()
            violation = self._check(header)
            if violation is not None:
                return cuts, Violation(max(frame_start, 0), *violation)
            self._payload_left = int.from_bytes(header[:3], "big")
            if not self._payload_left:
                cuts.append(pos)
        return cuts, None

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
