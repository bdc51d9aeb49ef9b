"""HTTP/2 client bytes (the preface, then frames), mutated at frame level (RFC 9113).

`parse` reads the preface and every 9-byte frame header with the payload it announces (the last
one possibly cut short); the declared length is kept apart from the payload when they differ, so
`parse(x).raw() == x` for any x starting with the preface. Header blocks (a HEADERS or
PUSH_PROMISE frame and its CONTINUATION frames) are decoded in order with one HPACK decoder, as
the receiver does, into field lists; after a field-level mutation every decoded block is encoded
again, in order, with one encoder, so the dynamic table stays consistent. Blocks the mutator adds
use literals that never touch the table.

Mutations: frame type, flags, stream id, declared length against the payload, padding, SETTINGS
entries, WINDOW_UPDATE increments, error codes, END_STREAM; fields added, dropped, duplicated,
changed, re-cased; a block split across CONTINUATION frames; frames inserted (any type, including
unknown ones), dropped, duplicated, swapped and moved (interleaving, e.g. into a header block).
"""

import copy
from collections.abc import Callable
import random
from dataclasses import dataclass, field

import hpack

from fuzz.mutators import vocab
from fuzz.mutators.base import Mutator, apply_ops, drop_one, duplicate_one, swap_two

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x4, 0x8, 0x20
MAX_FRAMES = 128


@dataclass
class Frame:
    type: int
    flags: int = 0
    stream: int = 0  # the 32 bits on the wire, reserved bit included
    payload: bytes = b""
    length: int | None = None  # the declared length, when it is not len(payload)

    def raw(self) -> bytes:
        n = len(self.payload) if self.length is None else self.length
        return (
            (n & 0xFFFFFF).to_bytes(3, "big")
            + bytes([self.type & 0xFF, self.flags & 0xFF])
            + (self.stream & 0xFFFFFFFF).to_bytes(4, "big")
            + self.payload
        )


@dataclass
class Block:
    frames: list  # the HEADERS / PUSH_PROMISE frame, then its CONTINUATION frames
    fields: list  # decoded (name, value) pairs


@dataclass
class Capture:
    prefix: bytes
    frames: list = field(default_factory=list)
    tail: bytes = b""  # a frame header cut short

    def raw(self) -> bytes:
        return self.prefix + b"".join(f.raw() for f in self.frames) + self.tail


def parse(data: bytes) -> Capture:
    """The preface (when present) and the frames after it; lossless."""
    prefix = PREFACE if data.startswith(PREFACE) else b""
    cap, pos = Capture(prefix), len(prefix)
    while pos + 9 <= len(data) and len(cap.frames) < MAX_FRAMES:
        n = int.from_bytes(data[pos : pos + 3], "big")
        payload = data[pos + 9 : pos + 9 + n]
        cap.frames.append(
            Frame(
                data[pos + 3],
                data[pos + 4],
                int.from_bytes(data[pos + 5 : pos + 9], "big"),
                payload,
                None if len(payload) == n else n,
            )
        )
        pos += 9 + len(payload)
    cap.tail = data[pos:]
    return cap


# ------------------------------------------------------------------------------------- header blocks
def _split_first(f: Frame) -> tuple[bytes, bytes, bytes] | None:
    """(what precedes the fragment, the fragment, the padding) of a HEADERS / PUSH_PROMISE payload."""
    p, head = f.payload, 0
    pad = 0
    if f.flags & PADDED:
        if not p:
            return None
        pad, head = p[0], 1
    if f.type == HEADERS and f.flags & PRIORITY_FLAG:
        head += 5
    elif f.type == PUSH_PROMISE:
        head += 4
    if head + pad > len(p):
        return None
    return p[:head], p[head : len(p) - pad], p[len(p) - pad :]


def header_blocks(cap: Capture) -> list[Block]:
    """The header blocks, decoded in order as the receiver would, up to the first that fails."""
    decoder, blocks, frames, i = hpack.Decoder(), [], cap.frames, 0
    while i < len(frames):
        first = frames[i]
        i += 1
        if first.type not in (HEADERS, PUSH_PROMISE):
            continue
        parts = _split_first(first)
        if parts is None:
            break
        members, fragment = [first], parts[1]
        while not members[-1].flags & END_HEADERS and i < len(frames) and frames[i].type == CONTINUATION:
            members.append(frames[i])
            fragment += frames[i].payload
            i += 1
        try:
            fields = [(bytes(n), bytes(v)) for n, v in decoder.decode(fragment, raw=True)]
        except Exception:  # noqa: BLE001 - any HPACK failure: the receiver's table is unknown from here
            break
        blocks.append(Block(members, fields))
    return blocks


def reencode(blocks: list[Block], rng: random.Random) -> None:
    """Encode every block's fields again, in order, with one encoder; each block's fragment is
    spread over the frames it had."""
    encoder, huffman = hpack.Encoder(), rng.random() < 0.5
    for block in blocks:
        fragment = encoder.encode(block.fields, huffman=huffman)
        first = block.frames[0]
        head, _, pad = _split_first(first) or (b"", b"", b"")
        n = len(block.frames)
        cuts = sorted(rng.randrange(len(fragment) + 1) for _ in range(n - 1))
        pieces = [fragment[a:b] for a, b in zip([0] + cuts, cuts + [len(fragment)])]
        first.payload, first.length = head + pieces[0] + pad, None
        for frame, piece in zip(block.frames[1:], pieces[1:]):
            frame.payload, frame.length = piece, None


def standalone_block(fields: list) -> bytes:
    """A fragment that neither reads nor changes the dynamic table (literals never indexed)."""
    return hpack.Encoder().encode([hpack.NeverIndexedHeaderTuple(n, v) for n, v in fields], huffman=False)


# ------------------------------------------------------------------------------------- new parts
def request_fields(rng: random.Random, body_len: int = 0) -> list:
    usual = rng.random() < 0.8
    fields = [
        (b":method", rng.choice(vocab.METHODS[:6] if usual else vocab.METHODS)),
        (b":scheme", b"http" if usual else rng.choice(vocab.SCHEMES)),
        (b":path", rng.choice(vocab.TARGETS[:2] if usual else vocab.TARGETS)),
        (b":authority", b"a.example" if usual else rng.choice(vocab.FIELD_VALUES[b"host"])),
    ]
    if not usual and rng.random() < 0.5:
        del fields[rng.randrange(len(fields))]
    for _ in range(rng.randrange(3)):
        fields.append(_any_field(rng))
    if rng.random() < 0.3:
        fields.append(
            (
                b"content-length",
                b"%d" % body_len if rng.random() < 0.5 else rng.choice(vocab.FIELD_VALUES[b"content-length"]),
            )
        )
    return fields


def _any_field(rng: random.Random) -> tuple[bytes, bytes]:
    name = rng.choice(vocab.FIELD_NAMES + vocab.H2_PSEUDO).lower()
    values = vocab.FIELD_VALUES.get(name)
    return name, rng.choice(values) if values and rng.random() < 0.85 else rng.choice(vocab.GENERIC_VALUES)


def _streams(cap: Capture) -> list[int]:
    return sorted({f.stream for f in cap.frames if f.stream}) or [1]


def _new_stream(cap: Capture) -> int:
    odd = [s for s in _streams(cap) if s % 2 and s < 2**31]
    return (max(odd) + 2) if odd else 1


def _settings_payload(rng: random.Random) -> bytes:
    return b"".join(
        rng.choice(vocab.SETTINGS_IDS).to_bytes(2, "big") + rng.choice(vocab.SETTINGS_VALUES).to_bytes(4, "big")
        for _ in range(rng.randrange(4))
    )


def new_frame(cap: Capture, rng: random.Random) -> Frame:
    """A frame of any type, valid more often than not, on a stream the capture uses or a new one."""
    kind = rng.choice(
        (
            DATA,
            HEADERS,
            HEADERS,
            PRIORITY,
            RST_STREAM,
            SETTINGS,
            PUSH_PROMISE,
            PING,
            GOAWAY,
            WINDOW_UPDATE,
            CONTINUATION,
            0x0A + rng.randrange(0xF6),
        )
    )
    sid = rng.choice(_streams(cap) + [_new_stream(cap), 0])
    if kind == DATA:
        return Frame(DATA, END_STREAM if rng.random() < 0.5 else 0, sid, bytes(rng.randrange(16)))
    if kind in (HEADERS, CONTINUATION, PUSH_PROMISE):
        fields = request_fields(rng) if kind == HEADERS and rng.random() < 0.8 else [_any_field(rng)]
        block = standalone_block(fields)
        if kind == HEADERS:
            sid = _new_stream(cap) if rng.random() < 0.7 else sid
            return Frame(HEADERS, END_HEADERS | (END_STREAM if rng.random() < 0.6 else 0), sid, block)
        if kind == PUSH_PROMISE:
            return Frame(PUSH_PROMISE, END_HEADERS, sid, (_new_stream(cap) + 1).to_bytes(4, "big") + block)
        return Frame(CONTINUATION, END_HEADERS if rng.random() < 0.7 else 0, sid, block)
    if kind == PRIORITY:
        dep = rng.choice((0, sid, 1, 3))
        return Frame(PRIORITY, 0, sid, dep.to_bytes(4, "big") + bytes([rng.randrange(256)]))
    if kind == RST_STREAM:
        return Frame(RST_STREAM, 0, sid, rng.choice(vocab.ERROR_CODES).to_bytes(4, "big"))
    if kind == SETTINGS:
        return Frame(SETTINGS, 1, 0) if rng.random() < 0.2 else Frame(SETTINGS, 0, 0, _settings_payload(rng))
    if kind == PING:
        return Frame(PING, 1 if rng.random() < 0.2 else 0, 0, bytes(rng.randrange(256) for _ in range(8)))
    if kind == GOAWAY:
        return Frame(
            GOAWAY,
            0,
            0,
            rng.choice(_streams(cap)).to_bytes(4, "big") + rng.choice(vocab.ERROR_CODES).to_bytes(4, "big"),
        )
    if kind == WINDOW_UPDATE:
        return Frame(WINDOW_UPDATE, 0, rng.choice((0, sid)), rng.choice(vocab.WINDOW_INCREMENTS).to_bytes(4, "big"))
    return Frame(kind, rng.randrange(256), sid, bytes(rng.randrange(256) for _ in range(rng.randrange(8))))


def new_capture(rng: random.Random) -> Capture:
    """The preface, the client's SETTINGS and one or two requests."""
    cap = Capture(PREFACE, [Frame(SETTINGS, 0, 0, _settings_payload(rng) if rng.random() < 0.3 else b"")])
    for _ in range(1 + (rng.random() < 0.3)):
        body = b"abcd"[: rng.randrange(5)]
        sid = _new_stream(cap)
        end = not body and rng.random() < 0.8
        cap.frames.append(
            Frame(
                HEADERS, END_HEADERS | (END_STREAM if end else 0), sid, standalone_block(request_fields(rng, len(body)))
            )
        )
        if not end and rng.random() < 0.25:  # a trailer section ends the stream (gRPC's shape)
            cap.frames.append(Frame(DATA, 0, sid, body))
            # A trailer section is held to the header rules (RFC 9113 8.2.1) and checked less often
            # than a head: now and then a lowercase name that is no token (a delimiter in it, which
            # HPACK carries as any other byte), with a plain value, so the name is the one thing wrong.
            name = rng.choice(vocab.TRAILER_NAMES)
            if rng.random() < 0.25:
                trailer = [(name + bytes([rng.choice(_DELIMITERS)]), b"0")]
            else:
                trailer = [(name, rng.choice(vocab.GENERIC_VALUES))]
            cap.frames.append(Frame(HEADERS, END_HEADERS | END_STREAM, sid, standalone_block(trailer)))
        elif not end:
            cap.frames.append(Frame(DATA, END_STREAM, sid, body))
    return cap


# ------------------------------------------------------------------------------------- operations
def _any(cap, rng, pred=lambda f: True) -> Frame | None:
    frames = [f for f in cap.frames if pred(f)]
    return rng.choice(frames) if frames else None


def frame_insert(cap: Capture, rng) -> bool:
    if len(cap.frames) >= MAX_FRAMES:
        return False
    cap.frames.insert(rng.randrange(len(cap.frames) + 1), new_frame(cap, rng))
    return True


def frame_move(cap: Capture, rng) -> bool:
    """A frame moved elsewhere; often right after a block's first frame (inside the header block)."""
    if len(cap.frames) < 2:
        return False
    f = cap.frames.pop(rng.randrange(len(cap.frames)))
    starts = [i + 1 for i, g in enumerate(cap.frames) if g.type in (HEADERS, PUSH_PROMISE)]
    at = rng.choice(starts) if starts and rng.random() < 0.5 else rng.randrange(len(cap.frames) + 1)
    cap.frames.insert(at, f)
    return True


def frame_type(cap: Capture, rng) -> bool:
    f = _any(cap, rng)
    if f is None:
        return False
    f.type = rng.choice(list(range(10)) + [0x0A, 0xFF])
    return True


def frame_flags(cap: Capture, rng) -> bool:
    f = _any(cap, rng)
    if f is None:
        return False
    f.flags ^= rng.choice((END_STREAM, END_HEADERS, PADDED, PRIORITY_FLAG, 1 << rng.randrange(8)))
    return True


def end_stream(cap: Capture, rng) -> bool:
    f = _any(cap, rng, lambda f: f.type in (DATA, HEADERS))
    if f is None:
        return False
    f.flags ^= END_STREAM
    return True


def frame_stream(cap: Capture, rng) -> bool:
    f = _any(cap, rng)
    if f is None:
        return False
    others = _streams(cap)
    f.stream = rng.choice([0, 1, 2, 3, _new_stream(cap), 2**31 - 1, f.stream | 2**31, rng.choice(others), f.stream + 2])
    return True


def frame_length(cap: Capture, rng) -> bool:
    """The declared length no longer matches the payload (or does again)."""
    f = _any(cap, rng)
    if f is None:
        return False
    n = len(f.payload)
    f.length = rng.choice((None, 0, max(0, n - 1), n + 1, n + 8, 2**14, 2**14 + 1, 2**24 - 1))
    return True


def frame_padding(cap: Capture, rng) -> bool:
    f = _any(cap, rng, lambda f: f.type in (DATA, HEADERS, PUSH_PROMISE) and not f.flags & PADDED)
    if f is None:
        return False
    pad = rng.choice((0, 1, 8, 255))
    declared = pad if rng.random() < 0.8 else pad + len(f.payload) + 1
    f.flags |= PADDED
    f.payload, f.length = bytes([declared & 0xFF]) + f.payload + bytes(pad), None
    return True


def settings_op(cap: Capture, rng) -> bool:
    f = _any(cap, rng, lambda f: f.type == SETTINGS)
    if f is None:
        f = Frame(SETTINGS)
        cap.frames.insert(0, f)
    entries = [f.payload[i : i + 6] for i in range(0, len(f.payload) - 5, 6)]
    choice = rng.randrange(3)
    if choice == 0 or not entries:
        entries.insert(rng.randrange(len(entries) + 1), _settings_payload(rng)[:6] or b"\x00\x04\x00\x00\xff\xff")
    elif choice == 1:
        i = rng.randrange(len(entries))
        entries[i] = entries[i][:2] + rng.choice(vocab.SETTINGS_VALUES).to_bytes(4, "big")
    else:
        del entries[rng.randrange(len(entries))]
    f.payload, f.length = b"".join(entries), None
    return True


def window_update(cap: Capture, rng) -> bool:
    f = _any(cap, rng, lambda f: f.type == WINDOW_UPDATE)
    if f is None:
        f = Frame(WINDOW_UPDATE, 0, rng.choice([0] + _streams(cap)))
        cap.frames.insert(rng.randrange(len(cap.frames) + 1), f)
    f.payload, f.length = rng.choice(vocab.WINDOW_INCREMENTS).to_bytes(4, "big"), None
    return True


def error_code(cap: Capture, rng) -> bool:
    f = _any(cap, rng, lambda f: f.type in (RST_STREAM, GOAWAY))
    if f is None:
        return False
    code = rng.choice(vocab.ERROR_CODES).to_bytes(4, "big")
    f.payload = code if f.type == RST_STREAM else f.payload[:4].ljust(4, b"\0") + code
    f.length = None
    return True


def data_resize(cap: Capture, rng) -> bool:
    f = _any(cap, rng, lambda f: f.type == DATA)
    if f is None:
        return False
    f.payload = (
        f.payload[: rng.randrange(len(f.payload) + 1)]
        if rng.random() < 0.4
        else f.payload + b"x" * rng.choice((1, 2, 16, 1000))
    )
    f.length = None
    return True


def headers_split(cap: Capture, rng) -> bool:
    """A block's fragment spread over one more CONTINUATION frame."""
    blocks = header_blocks(cap)
    candidates = [b for b in blocks if b.frames[0].type == HEADERS]
    if not candidates:
        return False
    block = rng.choice(candidates)
    cont = Frame(CONTINUATION, END_HEADERS, block.frames[0].stream)
    for f in block.frames:
        f.flags &= ~END_HEADERS
    at = next(i for i, f in enumerate(cap.frames) if f is block.frames[-1])
    cap.frames.insert(at + 1, cont)
    block.frames.append(cont)
    reencode(blocks, rng)
    return True


def _field_op(edit):
    """A field-level operation: decode the blocks, edit one block's list, encode all again."""

    def op(cap: Capture, rng) -> bool:
        blocks = header_blocks(cap)
        if not blocks:
            return False
        if not edit(rng.choice(blocks).fields, rng):
            return False
        reencode(blocks, rng)
        return True

    return op


def _add(fields, rng):
    fields.insert(rng.randrange(len(fields) + 1), _any_field(rng))
    return True


def _value(fields, rng):
    if not fields:
        return False
    i = rng.randrange(len(fields))
    name = fields[i][0]
    values = vocab.FIELD_VALUES.get(name.lower()) or vocab.FIELD_VALUES.get(b"host" if name == b":authority" else b"")
    if name == b":method":
        values = vocab.METHODS
    elif name == b":path":
        values = vocab.TARGETS
    elif name == b":scheme":
        values = vocab.SCHEMES
    fields[i] = (name, rng.choice(values) if values and rng.random() < 0.85 else rng.choice(vocab.GENERIC_VALUES))
    return True


_DELIMITERS = b'"(),/:;<=>?@[\\]{}'


def _name(fields, rng):
    if not fields:
        return False
    i = rng.randrange(len(fields))
    name, value = fields[i]
    fields[i] = (
        rng.choice(
            (
                name.upper(),
                name.capitalize(),
                name + b" ",
                b" " + name,
                name.replace(b"-", b"_"),
                name + bytes([rng.choice(_DELIMITERS)]),  # lowercase, yet no token (RFC 9110 5.6.2)
                rng.choice(vocab.FIELD_NAMES + vocab.H2_PSEUDO),
            )
        ),
        value,
    )
    return True


def operations() -> dict:
    return {
        "frame_insert": (6, frame_insert),
        "frame_drop": (2, lambda cap, rng: drop_one(cap.frames, rng)),
        "frame_duplicate": (2, lambda cap, rng: duplicate_one(cap.frames, rng, copy.copy, MAX_FRAMES)),
        "frame_swap": (2, lambda cap, rng: swap_two(cap.frames, rng)),
        "frame_move": (2, frame_move),
        "frame_type": (1, frame_type),
        "frame_flags": (3, frame_flags),
        "end_stream": (3, end_stream),
        "frame_stream": (3, frame_stream),
        "frame_length": (2, frame_length),
        "frame_padding": (1, frame_padding),
        "settings": (2, settings_op),
        "window_update": (2, window_update),
        "error_code": (1, error_code),
        "data_resize": (2, data_resize),
        "headers_split": (2, headers_split),
        "field_add": (4, _field_op(_add)),
        "field_drop": (2, _field_op(drop_one)),
        "field_duplicate": (2, _field_op(duplicate_one)),
        "field_value": (4, _field_op(_value)),
        "field_name": (2, _field_op(_name)),
        "field_reorder": (1, _field_op(swap_two)),
    }


class Http2(Mutator):
    """Client bytes starting with the preface; other inputs get a fresh capture now and then
    (`new_share`) and are otherwise left to the byte mutator (h2_codec reads them as actions)."""

    name = "http2"
    new_share = 0.5
    prologue: Callable | None = None  # h2_codec: (rng) -> fdp.Script of actions run before an input's own
    prologue_share = 0.0

    def __init__(self, byte_mutate=None) -> None:
        super().__init__(byte_mutate)
        self.ops = operations()

    def mutate_capture(self, data: bytes, rng: random.Random) -> tuple[list, bytes] | None:
        if not data.startswith(PREFACE):
            if self.prologue is not None and rng.random() < self.prologue_share:
                return ["h2.actions_prologue"], self.prologue(rng).around(data)
            return (["h2.capture_new"], new_capture(rng).raw()) if rng.random() < self.new_share else None
        cap = parse(data)
        kinds = apply_ops(self.ops, cap, rng, "h2")
        return (kinds, cap.raw()) if kinds else None

    def structured(self, data, max_size, rng):
        return self.mutate_capture(data, rng)

    def splice(self, data1, data2, max_size, rng):
        if not (data1.startswith(PREFACE) and data2.startswith(PREFACE)):
            return None
        a, b = parse(data1), parse(data2)
        i, j = rng.randrange(len(a.frames) + 1), rng.randrange(len(b.frames) + 1)
        k = j + rng.randrange(len(b.frames) - j + 1)
        a.frames[i:i] = b.frames[j:k]
        return ["h2.frames"], a.raw()


def codec_pair(byte_mutate=None) -> Http2:
    """h2_codec: most inputs are actions read with FuzzedDataProvider (bytes suit them); a fifth of
    the mutations of those get a prologue of whole actions (a configured pair, often a request:
    fuzz/mutators/h2_actions.py), a fifth of the rest start a raw capture instead, which the frame
    operations then grow."""
    from fuzz.mutators import h2_actions  # lazy: it reads h2_codec's action table

    mutator = Http2(byte_mutate)
    mutator.new_share = 0.2
    mutator.prologue, mutator.prologue_share = h2_actions.prologue, 0.2
    return mutator
