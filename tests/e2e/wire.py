"""Bytes for the catalog's entries and readers for the proxy's reaction to them.

Builders (HTTP/2 frames are built with hyperframe and hpack, not with the proxy's codec, so header
blocks the proxy must refuse can be written): `h2(*frames)` = client preface + SETTINGS + frames,
`headers`, `data`, and the flood shapes. Readers: `read_h1` (every response, parsed by h11 as a
client would) and `read_h2` (frames parsed by hyperframe, header blocks by hpack).
"""

import socket
from dataclasses import dataclass, field

import h11
import hpack
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
NO_ERROR, PROTOCOL_ERROR, CANCEL, REFUSED_STREAM, ENHANCE_YOUR_CALM = 0x0, 0x1, 0x8, 0x7, 0xB
GET = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"example.com")]


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


# ------------------------------------------------------------------------------------ HTTP/2 out
def h2(*frames: bytes) -> bytes:
    return PREFACE + SettingsFrame(0).serialize() + b"".join(frames)


def headers(stream: int, fields, end_stream: bool = True) -> bytes:
    """One HEADERS frame; the block is HPACK as the fields are given (invalid names included)."""
    flags = ["END_HEADERS"] + (["END_STREAM"] if end_stream else [])
    return HeadersFrame(stream, data=hpack.Encoder().encode(list(fields)), flags=flags).serialize()


def get(stream: int, path: bytes, *extra, end_stream: bool = True) -> bytes:
    return headers(stream, GET + [(b":path", path)] + list(extra), end_stream)


def post(stream: int, path: bytes, *extra) -> bytes:
    """Request headers that leave the stream open for a body."""
    return headers(stream, [(b":method", b"POST")] + GET[1:] + [(b":path", path)] + list(extra), end_stream=False)


def data(stream: int, payload: bytes, end_stream: bool = False) -> bytes:
    return DataFrame(stream, data=payload, flags=["END_STREAM"] if end_stream else []).serialize()


def rapid_reset(streams: int) -> bytes:
    out = b""
    for sid in range(1, 2 * streams, 2):
        out += get(sid, b"/rapid-reset") + RstStreamFrame(sid, error_code=CANCEL).serialize()
    return h2(out)


def continuation_flood(frames: int) -> bytes:
    block = HeadersFrame(1, data=b"\x82\x86", flags=["END_STREAM"]).serialize()
    return h2(block + b"".join(ContinuationFrame(1, data=b"\x84").serialize() for _ in range(frames)))


def hpack_bomb(fields: int) -> bytes:
    return h2(get(1, b"/hpack-bomb", *[(b"x-bomb", b"a" * 4000)] * fields))


def ping_flood(frames: int) -> bytes:
    return h2(b"".join(PingFrame(0, opaque_data=b"12345678").serialize() for _ in range(frames)))


def settings_flood(frames: int) -> bytes:
    return h2(b"".join(SettingsFrame(0, settings={0x4: 70000}).serialize() for _ in range(frames)))


def priority_flood(frames: int) -> bytes:
    """PRIORITY frames for idle streams (CVE-2019-9513): legal one by one, each costs a frame's work."""
    return h2(b"".join(PriorityFrame(2 * i + 1, depends_on=0, stream_weight=15).serialize() for i in range(frames)))


def window_update_flood(frames: int, stream: int = 0, opening: bytes = b"") -> bytes:
    """WINDOW_UPDATEs of 1 (on the connection, or on a stream `opening` opened) with no DATA frame to
    answer for (Envoy 1.11.1's flood limits)."""
    return h2(opening + WindowUpdateFrame(stream, window_increment=1).serialize() * frames)


# ---------------------------------------------------------------------------------------- reading
@dataclass
class Reaction:
    """What the proxy sent back before it closed (or before the reader stopped waiting)."""

    raw: bytes = b""
    closed: bool = False
    statuses: list = field(default_factory=list)  # HTTP/1.1: every complete response's status, in order
    status: dict = field(default_factory=dict)  # HTTP/2: stream -> :status
    ended: set = field(default_factory=set)  # HTTP/2: streams the proxy ended (END_STREAM)
    rst: dict = field(default_factory=dict)  # HTTP/2: stream -> RST_STREAM error code
    goaway: int | None = None
    h1_unparsable: str = ""


def exchange(address, payload: bytes, done, timeout: float = 10.0) -> Reaction:
    """One TCP write of `payload`, then read until the proxy closes, `done(reaction)` holds or nothing
    comes for `timeout` seconds."""
    is_h2 = payload.startswith(PREFACE)
    reaction = Reaction()
    with socket.create_connection(address, timeout=timeout) as s:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused midway: what it answered is still readable
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            except socket.timeout:
                break
            if not chunk:
                reaction.closed = True
                break
            reaction.raw += chunk
            (_read_h2 if is_h2 else _read_h1)(reaction)
            if done(reaction):
                break
    (_read_h2 if is_h2 else _read_h1)(reaction)
    return reaction


def _read_h1(r: Reaction) -> None:
    """Responses as an h11 client reads them (each answered as the response to a GET)."""
    conn = h11.Connection(h11.CLIENT)
    if r.raw:
        conn.receive_data(r.raw)
    if r.closed:
        conn.receive_data(b"")
    r.statuses = []
    try:
        while True:
            if conn.our_state is h11.IDLE:
                conn.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
                conn.send(h11.EndOfMessage())
            ev = conn.next_event()
            if isinstance(ev, h11.Response):
                r.statuses.append(ev.status_code)
            elif isinstance(ev, h11.EndOfMessage):
                if conn.their_state is not h11.DONE or conn.our_state is not h11.DONE:
                    return
                conn.start_next_cycle()
            elif ev is h11.NEED_DATA or ev is h11.PAUSED or isinstance(ev, h11.ConnectionClosed):
                return
    except (h11.RemoteProtocolError, h11.LocalProtocolError) as e:
        r.h1_unparsable = str(e)


def _read_h2(r: Reaction) -> None:
    decoder = hpack.Decoder()
    pos, wire = 0, r.raw
    block: dict[int, bytes] = {}
    r.status, r.ended, r.rst, r.goaway = {}, set(), {}, None
    while pos + 9 <= len(wire):
        frame, length = Frame.parse_frame_header(memoryview(wire[pos : pos + 9]))
        if pos + 9 + length > len(wire):
            break
        frame.parse_body(memoryview(wire[pos + 9 : pos + 9 + length]))
        pos += 9 + length
        sid = frame.stream_id
        if isinstance(frame, (HeadersFrame, ContinuationFrame)):
            block[sid] = block.get(sid, b"") + frame.data
            if "END_HEADERS" in frame.flags:
                fields = dict(decoder.decode(block.pop(sid), raw=True))
                if b":status" in fields and int(fields[b":status"]) >= 200:
                    r.status.setdefault(sid, int(fields[b":status"]))
        if isinstance(frame, (HeadersFrame, DataFrame)) and "END_STREAM" in frame.flags:
            r.ended.add(sid)
        elif isinstance(frame, RstStreamFrame):
            r.rst[sid] = frame.error_code
        elif isinstance(frame, GoAwayFrame) and r.goaway is None:
            r.goaway = frame.error_code
