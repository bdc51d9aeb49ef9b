"""The HTTP/2 frame guard finds the same frame ends and the same flood however the bytes are split."""

from proxy.http._h2_guard import FrameGuard, OutboundFrames
from proxy.http.codec import H2_PREFACE, CodecLimits


def frame(kind: int, flags: int, payload: bytes, stream: int = 1) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


SETTINGS, PING, DATA, HEADERS, CONTINUATION = 0x4, 0x6, 0x0, 0x1, 0x9
STREAM = (
    H2_PREFACE
    + frame(SETTINGS, 0, b"", 0)
    + frame(HEADERS, 0, b"h" * 5)
    + frame(CONTINUATION, 0, b"")
    + frame(CONTINUATION, 0x4, b"c" * 20)
    + frame(DATA, 0x1, b"d" * 9)
    + frame(PING, 0, b"p" * 8, 0)
)


def frame_ends(data: bytes) -> list[int]:
    ends, at = [len(H2_PREFACE)], len(H2_PREFACE)
    while at < len(data):
        at += 9 + int.from_bytes(data[at : at + 3], "big")
        ends.append(at)
    return ends


def scanned(pieces: list[bytes], limits: CodecLimits) -> tuple[list[int], str | None]:
    """Frame ends as stream offsets before the first violation, and that violation's stat."""
    guard, ends, offset = FrameGuard(limits, len(H2_PREFACE)), [], 0
    for piece in pieces:
        cuts, violation = guard.scan(piece)
        ends += [offset + c for c in cuts]
        if violation is not None:
            return ends, violation.stat
        offset += len(piece)
    return ends, None


def test_every_split_into_two_or_three_pieces_finds_the_frame_ends_of_one_piece():
    whole = scanned([STREAM], CodecLimits())
    assert whole == (frame_ends(STREAM), None)
    for i in range(len(STREAM) + 1):
        assert scanned([STREAM[:i], STREAM[i:]], CodecLimits()) == whole, i
        for j in range(i, len(STREAM) + 1, 7):
            assert scanned([STREAM[:i], STREAM[i:j], STREAM[j:]], CodecLimits()) == whole, (i, j)


def test_a_byte_at_a_time_stops_at_the_same_flood():
    limits = CodecLimits(h2_max_continuation_frames=1)
    whole = scanned([STREAM], limits)
    assert whole[1] == "h2_continuation_flood"
    assert scanned([STREAM[i : i + 1] for i in range(len(STREAM))], limits) == whole


def test_outbound_frames_end_where_the_frames_do_in_any_split():
    out = STREAM[len(H2_PREFACE) :]
    for i in range(len(out) + 1):
        queue = OutboundFrames(CodecLimits(), 0)
        queue.add(out[:i])
        queue.unwritten(i)  # nothing is on the socket yet: every frame stays queued
        queue.add(out[i:])
        assert [end for end, _ in queue._ends] == [e - len(H2_PREFACE) for e in frame_ends(STREAM)[1:]]
