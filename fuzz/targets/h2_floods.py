"""Flood limits for the h2_codec pair, judged from the bytes on the wire (issue 13 defect 8).

Envoy documents these limits for HTTP/2 (Http2ProtocolOptions), and the codecs take them from their
CodecLimits: more than max_consecutive_inbound_frames_with_empty_payload DATA / HEADERS /
CONTINUATION frames in a row that carry nothing but padding and do not end the stream; more than
max_outbound_frames frames (max_outbound_control_frames PING and SETTINGS ACKs and RST_STREAMs)
handed out and not yet on the wire. Each side of the pair parses what it receives and what its codec
hands out with its own small frame reader, so the judgement does not share code with the codec.

Oracles (InvariantViolation names):
- h2_flood_unchecked: a limit was exceeded and the codec went on: an inbound run over the limit
  did not end in a connection-level ProtocolViolation, or more frames wait in the outbound queue than
  the codec may hand out;
- h2_flood_uncounted: the codec gave up on the connection for a flood and no counter in its
  `stats` says so;
- h2_flood_unchecked also: more PRIORITY or WINDOW_UPDATE frames received than Envoy's
  max_inbound_priority_frames_per_stream / max_inbound_window_update_frames_per_data_frame_sent allow
  for the streams opened and DATA frames sent, and the connection goes on (check_control_frame_floods);
- h2_flood_misjudged: the codec counted an inbound empty-frame flood the bytes do not contain, or a
  CONTINUATION flood although no header block in them had more CONTINUATION frames than
  h2_max_continuation_frames or more bytes than max_header_bytes (the limits hold per header block,
  as Envoy counts them since CVE-2024-30255: a client sending many large but legal blocks is no
  flood).

`act_flood` makes the shapes cheap to reach: many copies of one frame in a single write (empty DATA,
padded empty DATA, one-byte DATA that a reset stream answers with RST_STREAM, PING, WINDOW_UPDATE),
or several request header blocks each spread over CONTINUATION frames (below, at and above the
per-block limit).
The pair hands each codec, before it takes its output, the size of its own bytes still queued
(`note_unwritten`): the queue is the wire the peer has not read.
"""

from collections import deque
from typing import SupportsIndex

import hpack
from hyperframe import frame as hf

from fuzz.oracles import InvariantViolation

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY = 0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7
WINDOW_UPDATE, CONTINUATION = 0x8, 0x9
END_HEADERS = 0x4
END_STREAM = 0x1
PROTOCOL_ERROR_CODE, REFUSED_STREAM_CODE, CANCEL_CODE = 0x1, 0x7, 0x8
PREFACE_LEN = 24
MAX_COPIES = 2048


class Own(bytes):
    """A fragment of the queue that the codec itself handed out (mutated or split pieces are plain
    bytes again: they no longer count as the codec's unwritten output)."""


def _fail(name: str, detail: str) -> None:
    raise InvariantViolation(name, detail)


class _Reader:
    """Whole frames out of a byte stream that arrives in pieces, after `skip` preface bytes."""

    def __init__(self, skip: int) -> None:
        self.skip = skip
        self.held = bytearray()
        self.consumed = 0  # stream offset where the held bytes start
        self._need = 9  # bytes the next frame needs in all (its header first): fed a byte at a time,
        # most reads complete nothing and cost one comparison

    def frames(self, data: bytes) -> list:
        """(type, flags, payload length, first payload byte or 0, end offset in the stream, stream id)
        of every frame completed by data (floods bring thousands per read: no payload copies). For
        RST_STREAM the byte is its error code's last (every code RFC 9113 defines is below 256)."""
        if self.skip:
            cut = min(self.skip, len(data))
            self.skip -= cut
            self.consumed += cut
            data = data[cut:]
        buf = self.held
        buf += data
        size = len(buf)
        if size < self._need:
            return []
        pos, out, base = 0, [], self.consumed
        while size - pos >= 9:
            length = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2]
            end = pos + 9 + length
            if end > size:
                break
            sid = ((buf[pos + 5] & 0x7F) << 24) | (buf[pos + 6] << 16) | (buf[pos + 7] << 8) | buf[pos + 8]
            kind = buf[pos + 3]
            first = buf[end - 1] if kind == RST_STREAM and length == 4 else buf[pos + 9] if length else 0
            out.append((kind, buf[pos + 4], length, first, base + end, sid))
            pos = end
        self.consumed += pos
        del buf[:pos]
        self._need = 9 + ((buf[0] << 16) | (buf[1] << 8) | buf[2]) if len(buf) >= 9 else 9
        return out

    def pending_header(self) -> tuple[int, int, int] | None:
        """(type, flags, length) of a frame whose header arrived and whose payload has not (a codec
        may judge a frame by its header alone)."""
        buf = self.held
        if len(buf) < 9:
            return None
        return buf[3], buf[4], (buf[0] << 16) | (buf[1] << 8) | buf[2]


class InboundRun:
    """Consecutive DATA / HEADERS / CONTINUATION frames with an empty payload and no END_STREAM, as
    Envoy counts them (other frame types neither count nor break the run); and per header block (a
    HEADERS or PUSH_PROMISE frame without END_HEADERS, then CONTINUATION frames up to END_HEADERS)
    its CONTINUATION frames and bytes."""

    def __init__(self, preface: bool) -> None:
        self._reader = _Reader(PREFACE_LEN if preface else 0)
        self.run = 0
        self.longest = 0
        self._in_block = False
        self._block = (0, 0)  # (CONTINUATION frames, bytes) of the header block being read
        self.most_continuations = 0  # over every header block read whole or in part
        self.fed_continuations = 0  # the same, in the last feed
        self.most_block_bytes = 0
        self.opened: list[int] = []  # streams the peer opened (HEADERS on a new odd id), in order
        self.highest_opened = 0
        self.reset: set[int] = set()  # streams it sent RST_STREAM for
        self.priority_frames = 0  # over the connection's life (Envoy's PRIORITY / WINDOW_UPDATE limits)
        self.window_updates = 0

    def _block_frame(self, kind: int, flags: int, length: int) -> tuple[int, int] | None:
        """The header block's counts after this frame, or None when it belongs to no block."""
        if kind in (HEADERS, PUSH_PROMISE):
            return 0, length
        if kind == CONTINUATION and self._in_block:
            return self._block[0] + 1, self._block[1] + length
        return None

    def block_peak(self) -> tuple[int, int]:
        """The most CONTINUATION frames and bytes of one header block, counting a frame whose
        header alone has arrived."""
        peak = (self.most_continuations, self.most_block_bytes)
        pending = self._reader.pending_header()
        counts = self._block_frame(*pending) if pending else None
        return (max(peak[0], counts[0]), max(peak[1], counts[1])) if counts else peak

    def feed(self, data: bytes) -> int:
        """The longest run reached while reading data (and, in `fed_continuations`, the most
        CONTINUATION frames one header block reached in it)."""
        longest, run, fed_continuations = 0, self.run, 0
        for kind, flags, length, first, _, sid in self._reader.frames(data):
            if kind == HEADERS and sid & 1 and sid > self.highest_opened:
                self.highest_opened = sid
                self.opened.append(sid)
            elif kind == RST_STREAM and sid:
                self.reset.add(sid)
            elif kind == PRIORITY:
                self.priority_frames += 1
            elif kind == WINDOW_UPDATE:
                self.window_updates += 1
            if kind in (HEADERS, PUSH_PROMISE, CONTINUATION):
                counts = self._block_frame(kind, flags, length)
                if counts is not None:
                    self._block = counts
                    self._in_block = not flags & END_HEADERS
                    fed_continuations = max(fed_continuations, counts[0])
                    self.most_block_bytes = max(self.most_block_bytes, counts[1])
            if kind == CONTINUATION:
                run = 0 if length else run + 1
            elif kind in (DATA, HEADERS):
                padding = first + 1 if flags & 0x8 and length else 0
                run = 0 if length > padding or flags & 0x1 else run + 1
            else:
                continue
            if run > longest:
                longest = run
        self.run = run
        self.longest = max(self.longest, longest)
        self.fed_continuations = fed_continuations
        self.most_continuations = max(self.most_continuations, fed_continuations)
        return longest


class OutboundQueue:
    """The frames a codec handed out, with where each ends in its output; those ending within the
    last `unwritten` bytes are still waiting for the wire."""

    def __init__(self, preface: bool) -> None:
        self._reader = _Reader(PREFACE_LEN if preface else 0)
        self._client = preface
        self._taken = 0
        self._frames: deque[tuple[int, bool]] = deque()  # (end offset, control frame?)
        self._control = 0  # control frames among them (checked after every read: kept, not summed)
        self.reset: set[int] = set()  # streams this side reset (RST_STREAM handed out)
        self.refused: set[int] = set()  # ... with REFUSED_STREAM or PROTOCOL_ERROR before any HEADERS on them
        self.answered: set[int] = set()  # streams this side sent HEADERS on
        # ... and certainly a request or a final response on (a 1xx never ends a stream nor comes
        # with DATA): streams the codec counts as opened, whatever 1xx it sent besides
        self.opened: set[int] = set()
        self.goaway = False  # this side sent a GOAWAY
        self.data_frames = 0  # DATA frames this side handed out

    def record(self, out: bytes) -> None:
        for kind, flags, _, code, end, sid in self._reader.frames(out):
            if kind == RST_STREAM:
                self.reset.add(sid)
                if code in (PROTOCOL_ERROR_CODE, REFUSED_STREAM_CODE) and sid not in self.answered:
                    self.refused.add(sid)
            elif kind == HEADERS:
                self.answered.add(sid)
                if self._client or flags & END_STREAM:
                    self.opened.add(sid)
            elif kind == GOAWAY:
                self.goaway = True
            elif kind == DATA:
                self.data_frames += 1
                self.opened.add(sid)
            control = kind == RST_STREAM or (kind in (PING, SETTINGS) and bool(flags & 0x1))
            self._frames.append((end, control))
            self._control += control
        self._taken += len(out)

    def waiting(self, unwritten: int) -> tuple[int, int]:
        """(frames, control frames) not yet on the wire."""
        written = self._taken - unwritten
        while self._frames and self._frames[0][0] <= written:
            self._control -= self._frames.popleft()[1]
        return len(self._frames), self._control


class Fragments(list):
    """A side's queue of fragments towards its peer, keeping the size of its Own fragments (the
    codec's unwritten output, asked for after every read) as fragments come and go."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.own = _own_bytes(self)

    def append(self, item) -> None:
        super().append(item)
        self.own += len(item) if isinstance(item, Own) else 0

    def pop(self, i: SupportsIndex = -1):
        item = super().pop(i)
        self.own -= len(item) if isinstance(item, Own) else 0
        return item

    def __setitem__(self, i, item) -> None:
        super().__setitem__(i, item)
        self.own = _own_bytes(self)

    def __delitem__(self, i) -> None:
        super().__delitem__(i)
        self.own = _own_bytes(self)


def _recounting(name: str):
    def changed(self, *args):
        result = getattr(list, name)(self, *args)
        self.own = _own_bytes(self)
        return result

    return changed


for _name in ("insert", "extend", "remove", "clear", "sort", "reverse", "__iadd__"):  # any other change recounts
    setattr(Fragments, _name, _recounting(_name))


def _own_bytes(fragments) -> int:
    return sum(len(f) for f in fragments if isinstance(f, Own))


def unwritten(queue: list) -> int:
    return queue.own if isinstance(queue, Fragments) else _own_bytes(queue)


def check_outbound(name: str, codec, out: OutboundQueue, queue: list, stats_before: dict, gave_up_before: bool) -> None:
    """After the codec handed out what it had (note_unwritten, then data_to_send)."""
    limits = codec.limits
    frames, control = out.waiting(unwritten(queue))
    if frames > limits.h2_max_outbound_frames or control > limits.h2_max_outbound_control_frames:
        _fail(
            "h2_flood_unchecked",
            f"{name}: {frames} frames ({control} PING/SETTINGS ACKs and RST_STREAMs) wait "
            f"for the wire; limits {limits.h2_max_outbound_frames} / "
            f"{limits.h2_max_outbound_control_frames}",
        )
    if codec.close_unflushed and not gave_up_before and codec.stats == stats_before:
        _fail("h2_flood_uncounted", f"{name}: closed for an outbound flood, no counter says so ({codec.stats})")


def check_inbound(
    name: str,
    codec,
    run: InboundRun,
    longest: int,
    was_live: bool,
    error_now: bool,
    closed_now: bool,
    stats_before: dict,
) -> None:
    """After the codec received bytes in which the empty-frame run reached `longest`: it had to end
    the connection with an error (unless the peer went away in the same bytes) and count it."""
    limit = codec.limits.h2_max_consecutive_empty_frames
    if was_live and longest > limit and not closed_now:
        if not error_now:
            _fail(
                "h2_flood_unchecked",
                f"{name}: {longest} frames in a row with an empty payload (limit {limit}) and the connection goes on",
            )
        if codec.stats == stats_before:
            _fail("h2_flood_uncounted", f"{name}: ended an empty-frame flood, no counter says so ({codec.stats})")
    if (
        codec.stats.get("h2_inbound_empty_frames_flood", 0) > stats_before.get("h2_inbound_empty_frames_flood", 0)
        and run.longest <= limit
    ):
        _fail(
            "h2_flood_misjudged",
            f"{name}: counted an empty-frame flood; the longest run it was sent is {run.longest} (limit {limit})",
        )
    limits = codec.limits
    if was_live and run.fed_continuations > limits.h2_max_continuation_frames and not (error_now or closed_now):
        _fail(
            "h2_flood_unchecked",
            f"{name}: a header block of {run.fed_continuations} CONTINUATION frames "
            f"(limit {limits.h2_max_continuation_frames}) and the connection goes on",
        )
    if codec.stats.get("h2_continuation_flood", 0) > stats_before.get("h2_continuation_flood", 0):
        continuations, size = run.block_peak()
        if continuations <= limits.h2_max_continuation_frames and size <= limits.max_header_bytes:
            _fail(
                "h2_flood_misjudged",
                f"{name}: counted a CONTINUATION flood; no header block it was sent has more than "
                f"{continuations} CONTINUATION frames (limit {limits.h2_max_continuation_frames}) or "
                f"{size} bytes (limit {limits.max_header_bytes})",
            )


def check_control_frame_floods(
    name: str,
    codec,
    run: InboundRun,
    out: OutboundQueue,
    was_live: bool,
    error_now: bool,
    closed_now: bool,
    stats_before: dict,
) -> None:
    """Envoy's max_inbound_priority_frames_per_stream and
    max_inbound_window_update_frames_per_data_frame_sent, over the connection's life: more than
    limit x (1 + streams opened) PRIORITY frames, or more than 5 + 2 x (streams opened + limit x
    DATA frames sent) WINDOW_UPDATE frames, end it. A stream is opened by the headers this side
    sends (a server's final response, a client's request); the streams it sent any HEADERS on bound
    that from above (1xx included), the streams it certainly sent a request or final response on
    (OutboundQueue.opened) from below: the verdicts hold for any count between. A client that opens
    each stream's window as it sends the request (httpx: one WINDOW_UPDATE per request) is no flood
    when the answers carry no DATA (204, HEAD)."""
    limits = codec.limits
    per_stream = limits.h2_max_inbound_priority_frames_per_stream
    per_data = limits.h2_max_inbound_window_update_frames_per_data_frame_sent
    most_opened = len(out.answered)
    least_opened = len(out.opened)
    floods = (
        (
            "h2_inbound_priority_frames_flood",
            "PRIORITY",
            run.priority_frames,
            per_stream * (1 + least_opened),
            per_stream * (1 + most_opened),
        ),
        (
            "h2_inbound_window_update_frames_flood",
            "WINDOW_UPDATE",
            run.window_updates,
            5 + 2 * (least_opened + per_data * out.data_frames),
            5 + 2 * (most_opened + per_data * out.data_frames),
        ),
    )
    for stat, kind, received, least_allowed, most_allowed in floods:
        if was_live and received > most_allowed and not (error_now or closed_now):
            _fail(
                "h2_flood_unchecked",
                f"{name}: {received} {kind} frames received (at most {most_allowed} allowed for "
                f"{most_opened} streams and {out.data_frames} DATA frames sent) and the connection goes on",
            )
        if codec.stats.get(stat, 0) > stats_before.get(stat, 0) and received <= least_allowed:
            _fail(
                "h2_flood_misjudged",
                f"{name}: counted a {kind} flood after {received} of them (allowed: {least_allowed} or more)",
            )


def most_reset_in_window(opened: list[int], reset: set[int], window: int) -> int:
    """The most streams reset (by either side, at any time) among any `window` consecutive streams the
    peer opened: an upper bound of what a rapid-reset defence can count at any moment."""
    most = count = 0
    for i, sid in enumerate(opened):
        count += sid in reset
        if i >= window:
            count -= opened[i - window] in reset
        most = max(most, count)
    return most


def check_rapid_reset(name: str, codec, run: InboundRun, out: OutboundQueue, stats_before: dict) -> None:
    """The codec ended the connection as a rapid reset (CVE-2023-44487; README "HTTP/2 resources":
    more than h2_rapid_reset_max of the client's last h2_rapid_reset_window streams reset before
    their response, by the client or refused and rejected by the proxy): some window of that many
    streams the client opened must hold more resets than that, even counting every reset the wire
    shows. A long-lived client that cancels a stream now and then is no flood (Envoy's mitigation
    judges recent streams, not the connection's lifetime)."""
    if codec.stats.get("h2_rapid_reset", 0) <= stats_before.get("h2_rapid_reset", 0):
        return
    limits = codec.limits
    most = most_reset_in_window(run.opened, run.reset | out.reset, limits.h2_rapid_reset_window)
    if most <= limits.h2_rapid_reset_max:
        _fail(
            "h2_flood_misjudged",
            f"{name}: counted a rapid reset; of the {len(run.opened)} streams the peer opened, no "
            f"{limits.h2_rapid_reset_window} in a row hold more than {most} resets "
            f"(limit {limits.h2_rapid_reset_max})",
        )


def early_resets_in_last_window(opened: list[int], reset_by_client: set[int], out: OutboundQueue, window: int) -> int:
    """Of the last `window` streams the client opened, how many certainly ended before their response:
    refused or rejected by the server (RST_STREAM REFUSED_STREAM / PROTOCOL_ERROR before it sent any
    HEADERS on them), or reset by the client while the server had sent nothing on them. A lower bound
    of what the rapid-reset defence counts (a client reset after a response began is left out, as a
    server reset that is the owner's own CANCEL)."""
    early = 0
    for sid in opened[-window:]:
        if sid in out.refused or (sid in reset_by_client and sid not in out.answered and sid not in out.reset):
            early += 1
    return early


def check_rapid_reset_enforced(name: str, codec, run: InboundRun, out: OutboundQueue) -> None:
    """The other half of check_rapid_reset, for a server: README "HTTP/2 resources" says more than
    h2_rapid_reset_max of the client's last h2_rapid_reset_window streams reset before their response,
    by the client or refused and rejected by the proxy, end the connection (GOAWAY ENHANCE_YOUR_CALM).
    A client that makes the server reset its streams (a malformed request each, "MadeYouReset",
    CVE-2025-8671) is held to the same limit as one that resets them itself (CVE-2023-44487). Judged
    while the server goes on: no GOAWAY from it (a draining server refuses new streams by design), no
    connection error, not closed."""
    if codec.client_side or out.goaway or codec.wants_close or getattr(codec, "_dead", False):
        return
    limits = codec.limits
    early = early_resets_in_last_window(run.opened, run.reset, out, limits.h2_rapid_reset_window)
    if early > limits.h2_rapid_reset_max:
        _fail(
            "h2_flood_unchecked",
            f"{name}: {early} of the client's last {limits.h2_rapid_reset_window} streams ended before their "
            f"response ({len(out.refused & set(run.opened))} refused or rejected by the server, the rest reset "
            f"by the client; limit {limits.h2_rapid_reset_max}) and the connection goes on",
        )


# ------------------------------------------------------------------------------ the action
FLOOD_KINDS = [
    "empty_data",
    "padded_empty_data",
    "one_byte_data",
    "ping",
    "window_update",
    "header_blocks",
    "stream_churn",
    "priority",
]
MAX_CHURN = 160  # streams per churn: past the rapid-reset window (100) with room for valid ones
MAX_BLOCKS, MAX_CONTINUATIONS = 8, 20  # per flood; per header block (the default limit is 16)


def header_blocks(fdp, first_id: int) -> bytes:
    """Complete GET header blocks on new streams from first_id, each spread over a HEADERS frame and
    1..MAX_CONTINUATIONS CONTINUATION frames (non-empty pieces: no empty-frame run), as a client with
    large cookies sends them when its fields pass the frame size; legal up to the per-block limit."""
    blocks, pieces = fdp.ConsumeIntInRange(1, MAX_BLOCKS), fdp.ConsumeIntInRange(1, MAX_CONTINUATIONS) + 1
    out, sid = [], first_id | 1
    for _ in range(blocks):
        fields = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"a.example")]
        fragment = hpack.Encoder().encode(
            [hpack.NeverIndexedHeaderTuple(n, v) for n, v in fields + [(b"cookie", b"c" * pieces)]], huffman=False
        )
        cuts = [len(fragment) * i // pieces for i in range(pieces + 1)]
        for i in range(pieces):
            kind, flags = (HEADERS, 0x1) if i == 0 else (CONTINUATION, 0)
            if i == pieces - 1:
                flags |= END_HEADERS
            piece = fragment[cuts[i] : cuts[i + 1]]
            out.append(len(piece).to_bytes(3, "big") + bytes([kind, flags]) + sid.to_bytes(4, "big") + piece)
        sid += 2
    return b"".join(out)


# How a churned stream ends before its response: the client cancels it, or it is a request the server
# must refuse as malformed (RFC 9113 8.1.1; the downgrade rules of proxy/http/headers.py) while h2
# itself accepts it: a fragment in :path, a content-length promising a body that END_STREAM denies.
CHURN_WAYS = ("cancel", "fragment", "length_without_body")


def _request_block(sid: int, way: str) -> bytes:
    path = b"/churn#part" if way == "fragment" else b"/churn"
    fields = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", path), (b":authority", b"a.example")]
    if way == "length_without_body":
        fields.append((b"content-length", b"5"))
    block = hpack.Encoder().encode([hpack.NeverIndexedHeaderTuple(n, v) for n, v in fields], huffman=False)
    return len(block).to_bytes(3, "big") + bytes([HEADERS, 0x1 | END_HEADERS]) + sid.to_bytes(4, "big") + block


def stream_churn(fdp, first_id: int) -> bytes:
    """New streams from first_id, each ended before any response could start (CVE-2023-44487 with the
    client's own RST_STREAM, CVE-2025-8671 "MadeYouReset" with a request the server must reset), every
    `every`-th one a plain request left open instead (0: none)."""
    streams, every = fdp.ConsumeIntInRange(1, MAX_CHURN), fdp.ConsumeIntInRange(0, 4)
    way = fdp.PickValueInList([*CHURN_WAYS, "mixed"])
    out, sid = [], first_id | 1
    for i in range(streams):
        if every and i % every == every - 1:
            out.append(_request_block(sid, "plain"))
        else:
            this = CHURN_WAYS[i % len(CHURN_WAYS)] if way == "mixed" else way
            out.append(_request_block(sid, this))
            if this == "cancel":
                out.append(hf.RstStreamFrame(sid, error_code=CANCEL_CODE).serialize())
        sid += 2
    return b"".join(out)


def flood_bytes(fdp, stream_id: int, fresh_id: int = 1) -> bytes:
    """Many copies of one frame; with `every` > 0 each every-th copy is a one-byte DATA (it breaks a run).
    Or header blocks over CONTINUATION frames, on streams from fresh_id."""
    kind = fdp.PickValueInList(FLOOD_KINDS)
    if kind == "header_blocks":
        return header_blocks(fdp, fresh_id)
    if kind == "stream_churn":
        return stream_churn(fdp, fresh_id)
    copies = fdp.ConsumeIntInRange(2, MAX_COPIES)
    every = fdp.ConsumeIntInRange(0, 8)
    if kind == "empty_data":
        one = hf.DataFrame(stream_id, data=b"").serialize()
    elif kind == "padded_empty_data":
        f = hf.DataFrame(stream_id, data=b"")
        f.pad_length = fdp.ConsumeIntInRange(0, 8)
        f.flags.add("PADDED")
        one = f.serialize()
    elif kind == "one_byte_data":  # on a stream the receiver reset, each is answered by RST_STREAM
        one = hf.DataFrame(stream_id, data=b"x").serialize()
    elif kind == "ping":
        one = hf.PingFrame(0, opaque_data=b"floodpng").serialize()
    elif kind == "priority":  # on stream_id, or on a fresh id: PRIORITY may name an idle stream
        one = hf.PriorityFrame(stream_id if fdp.ConsumeBool() else fresh_id, stream_weight=15).serialize()
    else:
        one = hf.WindowUpdateFrame(stream_id if fdp.ConsumeBool() else 0, window_increment=1).serialize()
    if not every:
        return one * copies
    breaker = hf.DataFrame(stream_id, data=b"x").serialize()
    return (one * (every - 1) + breaker) * (copies // every) + one * (copies % every)


def act_flood(pair, fdp) -> None:
    """One write of many copies of a frame, on a stream the sender knows (or stream 1)."""
    sender = pair.client if fdp.ConsumeIntInRange(0, 3) else pair.server
    sid = fdp.PickValueInList(sorted(sender.sent) or [1])
    # New streams above every stream either side has seen (raw floods open streams the codec never sent).
    fresh = max(max(sender.sent, default=-1), pair.peer(sender).inbound.highest_opened) + 2
    sender.queue.append(flood_bytes(fdp, sid, fresh_id=fresh))
    pair.peer(sender).tainted = True
