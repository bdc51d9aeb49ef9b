"""HTTP/1.1 messages, mutated at the level of their grammar (RFC 9112).

A tolerant, lossless tokenizer (`parse`) reads any bytes as a stream of messages: start line,
field lines, the empty line ending the head, then the body as the message's framing says
(chunks with their size lines, extensions and trailers; Content-Length bytes; to the end of the
input for a response without framing). Every byte lands somewhere and every line keeps its own
line ending, so `serialise(parse(x)) == x` for any x and a mutation changes only what it touches.

Mutations: duplicate, drop, reorder, re-case a field line; whitespace around the colon and the
value (OWS), obs-fold, line endings (bare LF, bare CR, none); one of the message's fields named in
Connection (re-cased); framing headers swapped, doubled or
both present; chunk sizes in other notations, chunk extensions, split and merged chunks, trailers;
start-line tokens; pipelined messages inserted, duplicated, dropped, reordered, split and merged; a
message carried in another's body. New messages come from `template` (vocab.py's tokens).
"""

import copy
import random
from dataclasses import dataclass, field

from fuzz.mutators import vocab
from fuzz.mutators.base import Mutator, apply_ops, drop_one, duplicate_one, swap_two
from proxy.http.codec import CodecLimits

MAX_MESSAGES = 32
# The documented field-count limit (Envoy's max_headers_count, default 100): heads at it and one
# either side are where an off-by-one shows, and random insertion never gets that far.
FIELD_LIMIT = CodecLimits().max_headers


@dataclass
class Line:
    text: bytes
    eol: bytes = b"\r\n"

    def raw(self) -> bytes:
        return self.text + self.eol


@dataclass
class Chunk:
    size: Line  # chunk-size [extensions]
    data: bytes = b""
    crlf: bytes = b""  # after the data


@dataclass
class Message:
    start: Line
    fields: list = field(default_factory=list)  # Line
    blank: bytes = b""  # the empty line ending the head; b"" when the input ended first
    body: bytes = b""  # an identity body (Content-Length, or to the end of a response)
    chunks: list | None = None  # a chunked body
    trailers: list = field(default_factory=list)  # Line, after the last chunk
    end: bytes = b""  # the empty line ending the trailer section

    def raw(self) -> bytes:
        out = [self.start.raw(), *(f.raw() for f in self.fields), self.blank]
        if self.chunks is None:
            out.append(self.body)
        else:
            out += [c.size.raw() + c.data + c.crlf for c in self.chunks]
            out += [t.raw() for t in self.trailers] + [self.end]
        return b"".join(out)


@dataclass
class Stream:
    messages: list
    tail: bytes = b""  # what no message took

    def raw(self) -> bytes:
        return b"".join(m.raw() for m in self.messages) + self.tail


# ------------------------------------------------------------------------------------- tokenizer
class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def line(self) -> Line | None:
        if self.pos >= len(self.data):
            return None
        nl = self.data.find(b"\n", self.pos)
        if nl < 0:
            text, eol, self.pos = self.data[self.pos :], b"", len(self.data)
            return Line(text, eol)
        text, self.pos = self.data[self.pos : nl], nl + 1
        return Line(text[:-1], b"\r\n") if text.endswith(b"\r") else Line(text, b"\n")

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk

    def crlf(self) -> bytes:
        rest = self.data[self.pos : self.pos + 2]
        return self.take(2 if rest == b"\r\n" else 1 if rest[:1] == b"\n" else 0)


def field_name(line: Line) -> bytes:
    return line.text.partition(b":")[0].strip().lower()


def field_value(line: Line) -> bytes:
    return line.text.partition(b":")[2].strip(b" \t")


def chunk_size(text: bytes) -> int | None:
    """The size a lenient reader sees in a chunk-size line, or None."""
    digits = text.split(b";")[0].strip(b" \t")
    try:
        size = int(digits, 16)
    except ValueError:
        return None
    return size if size >= 0 else None


def _framing(msg: Message, response: bool) -> tuple[str, int]:
    codings = [field_value(f).lower() for f in msg.fields if field_name(f) == b"transfer-encoding"]
    if any(b"chunked" in c for c in codings):
        return "chunked", 0
    for f in msg.fields:
        if field_name(f) == b"content-length" and field_value(f).isdigit():
            return "length", int(field_value(f))
    if response:
        parts = msg.start.text.split(b" ")
        status = parts[1] if len(parts) > 1 else b""
        return ("none", 0) if status[:1] == b"1" or status in (b"204", b"304") else ("eof", 0)
    return "none", 0


def _read_chunks(cur: _Cursor, msg: Message) -> None:
    msg.chunks = []
    while True:
        mark = cur.pos
        line = cur.line()
        if line is None:
            return
        size = chunk_size(line.text)
        if size is None:
            cur.pos = mark  # not a chunk: the next message starts here
            return
        chunk = Chunk(line)
        msg.chunks.append(chunk)
        if size == 0:
            while (t := cur.line()) is not None:
                if not t.text:
                    msg.end = t.eol
                    return
                msg.trailers.append(t)
            return
        chunk.data = cur.take(size)
        chunk.crlf = cur.crlf()


def parse(data: bytes, response: bool = False) -> Stream:
    """Any bytes as messages; lossless: parse(x).raw() == x."""
    cur = _Cursor(data)
    messages: list[Message] = []
    while cur.pos < len(data) and len(messages) < MAX_MESSAGES:
        start = cur.line()
        assert start is not None, "bytes are left"
        msg = Message(start)
        messages.append(msg)
        if not msg.start.text:
            continue  # an empty line between messages
        while (line := cur.line()) is not None:
            if not line.text:
                msg.blank = line.eol
                break
            msg.fields.append(line)
        if not msg.blank:
            continue
        kind, length = _framing(msg, response)
        if kind == "chunked":
            _read_chunks(cur, msg)
        elif kind == "length":
            msg.body = cur.take(length)
        elif kind == "eof":
            msg.body = cur.take(len(data))
    return Stream(messages, data[cur.pos :])


# ------------------------------------------------------------------------------------- new parts
def _field(name: bytes, value: bytes) -> Line:
    return Line(name + b": " + value)


def _pick_value(name: bytes, rng: random.Random) -> bytes:
    values = vocab.FIELD_VALUES.get(name.lower())
    if values and rng.random() < 0.85:
        return rng.choice(values)
    return rng.choice(vocab.GENERIC_VALUES)


def _chunked(body: bytes, rng: random.Random) -> list:
    chunks, at = [], 0
    while at < len(body):
        n = 1 + rng.randrange(len(body) - at)
        chunks.append(Chunk(Line(b"%x" % n), body[at : at + n], b"\r\n"))
        at += n
    return chunks + [Chunk(Line(b"0"))]


def _dechunked(msg: Message) -> bytes:
    return b"".join(c.data for c in msg.chunks or ())


def template(rng: random.Random, response: bool = False) -> Message:
    """A plausible message: mostly valid tokens, sometimes an odd one, a body framed one way or
    another."""
    usual = rng.random() < 0.8
    if response:
        status = b"200" if usual else rng.choice(vocab.STATUSES)
        start = b"HTTP/1.1 " + status + b" " + (b"OK" if usual else rng.choice(vocab.REASONS))
        fields = []
    else:
        method = rng.choice(vocab.METHODS[:6] if usual else vocab.METHODS)
        target = rng.choice(vocab.TARGETS[:2] if usual else vocab.TARGETS)
        version = b"HTTP/1.1" if usual or rng.random() < 0.5 else rng.choice(vocab.VERSIONS)
        start = b" ".join((method, target, version))
        fields = [_field(b"Host", b"a.example" if usual else _pick_value(b"host", rng))] if rng.random() < 0.9 else []
    for _ in range(rng.randrange(3)):
        name = rng.choice(vocab.FIELD_NAMES)
        fields.append(_field(name, _pick_value(name, rng)))
    msg = Message(Line(start), fields, b"\r\n")
    body = bytes(rng.choice(b"abcxyz0") for _ in range(rng.randrange(12))) if rng.random() < 0.5 else b""
    framing = rng.randrange(3)
    if framing == 1 or (response and body and framing == 0):
        msg.fields.append(_field(b"Content-Length", b"%d" % len(body)))
        msg.body = body
    elif framing == 2:
        msg.fields.append(_field(b"Transfer-Encoding", b"chunked"))
        msg.chunks, msg.end = _chunked(body, rng), b"\r\n"
    return msg


# ------------------------------------------------------------------------------------- operations
def _messages(s: Stream, rng: random.Random, pred=lambda m: True) -> Message | None:
    heads = [m for m in s.messages if m.start.text and pred(m)]
    return rng.choice(heads) if heads else None


def _with_fields(s, rng, n=1):
    return _messages(s, rng, lambda m: len(m.fields) >= n)


def _on_fields(list_op):
    """A list operation on the field lines of one message."""

    def op(s: Stream, rng) -> bool:
        m = _with_fields(s, rng)
        return m is not None and list_op(m.fields, rng)

    return op


def field_recase(s: Stream, rng) -> bool:
    m = _with_fields(s, rng)
    if m is None:
        return False
    line = rng.choice(m.fields)
    name, colon, rest = line.text.partition(b":")
    style = rng.randrange(4)
    if style == 0:
        name = name.lower()
    elif style == 1:
        name = name.upper()
    elif style == 2:
        name = b"-".join(p.capitalize() for p in name.split(b"-"))
    elif name:
        i = rng.randrange(len(name))
        name = name[:i] + name[i : i + 1].swapcase() + name[i + 1 :]
    new = name + colon + rest
    changed = new != line.text
    line.text = new
    return changed


def field_ows(s: Stream, rng) -> bool:
    m = _with_fields(s, rng)
    if m is None:
        return False
    line = rng.choice(m.fields)
    name, _, _ = line.text.partition(b":")
    line.text = (
        name.rstrip(b" \t")
        + rng.choice(vocab.OWS)
        + b":"
        + rng.choice(vocab.OWS)
        + field_value(line)
        + rng.choice(vocab.OWS)
    )
    return True


def field_fold(s: Stream, rng) -> bool:
    m = _with_fields(s, rng)
    if m is None:
        return False
    i = rng.randrange(len(m.fields))
    line = m.fields[i]
    name, _, value = line.text.partition(b":")
    cut = rng.randrange(len(value) + 1)
    line.text = name + b":" + value[:cut]
    m.fields.insert(i + 1, Line(rng.choice((b" ", b"\t", b"  ")) + value[cut:].lstrip(b" "), line.eol))
    return True


def field_insert(s: Stream, rng) -> bool:
    m = _messages(s, rng)
    if m is None:
        return False
    name = rng.choice(vocab.FIELD_NAMES)
    if rng.random() < 0.5:
        name = b"-".join(p.capitalize() for p in name.split(b"-"))
    m.fields.insert(rng.randrange(len(m.fields) + 1), _field(name, _pick_value(name, rng)))
    return True


def field_count_limit(s: Stream, rng) -> bool:
    """Pad (or cut) one message's fields to the field-count limit, one under it or one over it."""
    m = _messages(s, rng)
    if m is None:
        return False
    want = FIELD_LIMIT + rng.choice((-1, 0, 0, 1))
    del m.fields[want:]
    m.fields += [_field(b"x-f%d" % i, b"v") for i in range(want - len(m.fields))]
    return True


def field_value_op(s: Stream, rng) -> bool:
    m = _with_fields(s, rng)
    if m is None:
        return False
    line = rng.choice(m.fields)
    name = line.text.partition(b":")[0]
    line.text = name + b": " + _pick_value(name.strip(), rng)
    return True


def _recased(name: bytes, rng) -> bytes:
    style = rng.randrange(4)
    if style == 0:
        return name.upper()
    if style == 1:
        return b"-".join(p.capitalize() for p in name.split(b"-"))
    if style == 2 and name:
        i = rng.randrange(len(name))
        return name[:i] + name[i : i + 1].swapcase() + name[i + 1 :]
    return name


def connection_nominate(s: Stream, rng) -> bool:
    """Name one of the message's own fields in Connection (RFC 9110 7.6.1: a proxy removes the fields
    Connection names, whatever their case; hop-by-hop header abuse makes it drop or keep fields the
    backend trusts), re-cased, in a new Connection field or appended to one, with OWS."""
    m = _with_fields(s, rng)
    if m is None:
        return False
    names = [field_name(f).strip() for f in m.fields]
    token = _recased(rng.choice([n for n in names if n] or [b"x-custom"]), rng)
    existing = [f for f in m.fields if field_name(f).strip().lower() == b"connection"]
    if existing and rng.random() < 0.5:
        line = rng.choice(existing)
        line.text = line.text.rstrip(b" \t") + rng.choice((b",", b", ", b" ,\t")) + token
    else:
        m.fields.insert(rng.randrange(len(m.fields) + 1), _field(_recased(b"connection", rng), token))
    return True


def line_ending(s: Stream, rng) -> bool:
    slots = []
    for m in s.messages:
        slots += [(line, "eol") for line in [m.start, *m.fields, *m.trailers]]
        if m.blank:
            slots.append((m, "blank"))
        if m.end:
            slots.append((m, "end"))
        for c in m.chunks or ():
            slots += [(c.size, "eol")] + ([(c, "crlf")] if c.data else [])
    if not slots:
        return False
    obj, attr = rng.choice(slots)
    current = getattr(obj, attr)
    setattr(obj, attr, rng.choice([e for e in vocab.EOLS if e != current]))
    return True


def _fields_named(m: Message, name: bytes) -> list:
    return [f for f in m.fields if field_name(f) == name]


def framing_both(s: Stream, rng) -> bool:
    """Content-Length and Transfer-Encoding: chunked in one message (either order)."""
    m = _messages(s, rng)
    if m is None:
        return False
    if m.chunks is None:
        body = m.body
        m.fields = [f for f in m.fields if field_name(f) != b"transfer-encoding"]
        m.fields.insert(
            rng.randrange(len(m.fields) + 1), _field(b"Transfer-Encoding", _pick_value(b"transfer-encoding", rng))
        )
        if rng.random() < 0.7:
            m.chunks, m.body, m.end = _chunked(body, rng), b"", b"\r\n"
    if not _fields_named(m, b"content-length"):
        n = len(_dechunked(m)) if rng.random() < 0.5 else rng.randrange(16)
        m.fields.insert(rng.randrange(len(m.fields) + 1), _field(b"Content-Length", b"%d" % n))
    m.blank = m.blank or b"\r\n"
    return True


def framing_swap(s: Stream, rng) -> bool:
    """A chunked body becomes a Content-Length one, or the other way round."""
    m = _messages(s, rng)
    if m is None:
        return False
    framing = (b"content-length", b"transfer-encoding")
    m.fields = [f for f in m.fields if field_name(f) not in framing]
    if m.chunks is not None:
        m.body, m.chunks, m.trailers, m.end = _dechunked(m), None, [], b""
        m.fields.append(_field(b"Content-Length", b"%d" % len(m.body)))
    else:
        m.chunks, m.body, m.end = _chunked(m.body, rng), b"", b"\r\n"
        m.fields.append(_field(b"Transfer-Encoding", b"chunked"))
    m.blank = m.blank or b"\r\n"
    return True


def framing_double(s: Stream, rng) -> bool:
    """A second framing field: the same one again with another (or the same) value."""
    m = _messages(s, rng)
    if m is None:
        return False
    name = rng.choice((b"Content-Length", b"Transfer-Encoding"))
    present = _fields_named(m, name.lower())
    value = field_value(present[0]) if present and rng.random() < 0.3 else _pick_value(name, rng)
    m.fields.insert(rng.randrange(len(m.fields) + 1), _field(name, value))
    return True


def body_length(s: Stream, rng) -> bool:
    """The body and its declared length disagree (or agree again)."""
    m = _messages(s, rng, lambda m: m.chunks is None and m.blank)
    if m is None:
        return False
    choice = rng.randrange(3)
    if choice == 0:
        m.body += bytes(rng.choice(b"abc") for _ in range(1 + rng.randrange(8)))
    elif choice == 1 and m.body:
        m.body = m.body[: rng.randrange(len(m.body))]
    else:
        fields = _fields_named(m, b"content-length")
        n = max(0, len(m.body) + rng.choice((-2, -1, 0, 1, 2, 100)))
        if fields:
            line = rng.choice(fields)
            line.text = line.text.partition(b":")[0] + b": %d" % n
        else:
            m.fields.append(_field(b"Content-Length", b"%d" % n))
    return True


def _size_notation(size: int, rng: random.Random) -> bytes:
    digits = b"%x" % size
    choice = rng.randrange(12)
    if choice == 0:
        return digits.upper()
    if choice == 1:
        return b"0" * (1 + rng.randrange(20)) + digits
    if choice == 2:
        return b"0x" + digits
    if choice == 3:
        return b"+" + digits
    if choice == 4:
        return digits[:1] + b"_" + digits[1:] if len(digits) > 1 else b"0_" + digits
    if choice == 5:
        return rng.choice((b" ", b"\t")) + digits
    if choice == 6:
        return digits + rng.choice((b" ", b"\t", b"  "))
    if choice == 7:
        return b"%x" % max(0, size + rng.choice((-1, 1, 16)))
    if choice == 8:
        return b"-" + digits
    if choice == 9:
        return digits + b"\x00"
    if choice == 10:
        return b"f" * 17
    return digits


def _chunk_messages(s: Stream, rng):
    return _messages(s, rng, lambda m: bool(m.chunks))


def chunk_size_op(s: Stream, rng) -> bool:
    m = _chunk_messages(s, rng)
    if m is None:
        return False
    c = rng.choice(m.chunks)
    _, semi, ext = c.size.text.partition(b";")
    c.size.text = _size_notation(len(c.data), rng) + semi + ext
    return True


def chunk_extension(s: Stream, rng) -> bool:
    m = _chunk_messages(s, rng)
    if m is None:
        return False
    c = rng.choice(m.chunks)
    c.size.text += rng.choice(vocab.CHUNK_EXTENSIONS)
    return True


def chunk_split(s: Stream, rng) -> bool:
    m = _chunk_messages(s, rng)
    candidates = [i for i, c in enumerate(m.chunks) if len(c.data) >= 2] if m else []
    if not candidates:
        return False
    i = rng.choice(candidates)
    c = m.chunks[i]
    cut = 1 + rng.randrange(len(c.data) - 1)
    m.chunks[i : i + 1] = [
        Chunk(Line(b"%x" % cut), c.data[:cut], b"\r\n"),
        Chunk(Line(b"%x" % (len(c.data) - cut)), c.data[cut:], c.crlf),
    ]
    return True


def chunk_merge(s: Stream, rng) -> bool:
    m = _chunk_messages(s, rng)
    pairs = [i for i in range(len(m.chunks) - 1) if m.chunks[i].data and m.chunks[i + 1].data] if m else []
    if not pairs:
        return False
    i = rng.choice(pairs)
    a, b = m.chunks[i], m.chunks[i + 1]
    m.chunks[i : i + 2] = [Chunk(Line(b"%x" % (len(a.data) + len(b.data))), a.data + b.data, b.crlf)]
    return True


def _ensure_last_chunk(m: Message) -> None:
    chunks = m.chunks
    assert chunks is not None, "a chunked message (_chunk_messages)"
    if not chunks or chunk_size(chunks[-1].size.text) != 0:
        chunks.append(Chunk(Line(b"0")))
    m.end = m.end or b"\r\n"


def trailer_add(s: Stream, rng) -> bool:
    m = _chunk_messages(s, rng)
    if m is None:
        return False
    _ensure_last_chunk(m)
    name = rng.choice(vocab.TRAILER_NAMES)
    m.trailers.insert(rng.randrange(len(m.trailers) + 1), _field(name, _pick_value(name, rng)))
    return True


def chunk_last(s: Stream, rng) -> bool:
    """The last chunk (and what follows it) taken away, or put back."""
    m = _chunk_messages(s, rng)
    if m is None:
        return False
    if chunk_size(m.chunks[-1].size.text) == 0 and rng.random() < 0.5:
        m.chunks.pop()
        m.trailers, m.end = [], b""
    else:
        _ensure_last_chunk(m)
    return True


def start_token(s: Stream, rng, response: bool) -> bool:
    m = _messages(s, rng)
    if m is None:
        return False
    parts = m.start.text.split(b" ", 2) + [b""] * 2
    parts = parts[:3]
    i = rng.randrange(3)
    tables: tuple[tuple[bytes, ...], ...]
    if response:
        tables = (vocab.VERSIONS, vocab.STATUSES, vocab.REASONS)
    else:
        tables = (vocab.METHODS, vocab.TARGETS, vocab.VERSIONS)
    parts[i] = rng.choice(tables[i])
    m.start.text = b" ".join(parts)
    return True


def start_spacing(s: Stream, rng) -> bool:
    m = _messages(s, rng, lambda m: b" " in m.start.text)
    if m is None:
        return False
    spaces = [i for i, b in enumerate(m.start.text) if b == 0x20]
    i = rng.choice(spaces)
    m.start.text = m.start.text[:i] + rng.choice((b"  ", b"\t", b"", b" \t", b"\x0b")) + m.start.text[i + 1 :]
    return True


def message_insert(s: Stream, rng, response: bool) -> bool:
    if len(s.messages) >= MAX_MESSAGES:
        return False
    s.messages.insert(rng.randrange(len(s.messages) + 1), template(rng, response))
    return True


def message_merge(s: Stream, rng) -> bool:
    """The head no longer ends: what followed it (its body, the next message) runs into it."""
    m = _messages(s, rng, lambda m: bool(m.blank))
    if m is None:
        return False
    m.blank = b""
    return True


def message_split(s: Stream, rng) -> bool:
    """An empty line inside the head: the field lines after it become a body or a next message."""
    m = _with_fields(s, rng)
    if m is None:
        return False
    m.fields.insert(rng.randrange(len(m.fields)), Line(b"", rng.choice((b"\r\n", b"\n"))))
    return True


def body_smuggle(s: Stream, rng, response: bool) -> bool:
    """Another message carried as this one's body (Content-Length or chunked, as it was framed)."""
    m = _messages(s, rng, lambda m: bool(m.blank))
    if m is None:
        return False
    inner = template(rng, response).raw()
    if m.chunks is not None:
        m.chunks, m.end = _chunked(inner, rng), b"\r\n"
    else:
        m.body = inner
        for line in _fields_named(m, b"content-length"):
            line.text = line.text.partition(b":")[0] + b": %d" % len(inner)
        if not _fields_named(m, b"content-length"):
            m.fields.append(_field(b"Content-Length", b"%d" % len(inner)))
    return True


def operations(response: bool) -> dict:
    """kind -> (weight, fn(stream, rng) -> applied?)."""
    return {
        "field_duplicate": (3, _on_fields(lambda fields, rng: duplicate_one(fields, rng, copy.copy))),
        "field_drop": (3, _on_fields(drop_one)),
        "field_swap": (2, _on_fields(swap_two)),
        "field_recase": (2, field_recase),
        "field_ows": (3, field_ows),
        "field_fold": (2, field_fold),
        "field_insert": (5, field_insert),
        "field_count_limit": (1, field_count_limit),
        "field_value": (5, field_value_op),
        "line_ending": (3, line_ending),
        "connection_nominate": (2, connection_nominate),
        "framing_both": (3, framing_both),
        "framing_swap": (2, framing_swap),
        "framing_double": (3, framing_double),
        "body_length": (2, body_length),
        "chunk_size": (4, chunk_size_op),
        "chunk_extension": (2, chunk_extension),
        "chunk_split": (1, chunk_split),
        "chunk_merge": (1, chunk_merge),
        "trailer_add": (2, trailer_add),
        "chunk_last": (1, chunk_last),
        "start_token": (4, lambda s, rng: start_token(s, rng, response)),
        "start_spacing": (1, start_spacing),
        "message_insert": (3, lambda s, rng: message_insert(s, rng, response)),
        "message_duplicate": (1, lambda s, rng: duplicate_one(s.messages, rng, copy.deepcopy, MAX_MESSAGES)),
        "message_drop": (1, lambda s, rng: drop_one(s.messages, rng, keep=1)),
        "message_swap": (1, lambda s, rng: swap_two(s.messages, rng)),
        "message_merge": (1, message_merge),
        "message_split": (1, message_split),
        "body_smuggle": (1, lambda s, rng: body_smuggle(s, rng, response)),
    }


class Http1(Mutator):
    """Requests (the server codec's input) or, with response=True, responses."""

    name = "http1"

    def __init__(self, byte_mutate=None, response: bool = False) -> None:
        super().__init__(byte_mutate)
        self.response = response
        self.ops = operations(response)

    def mutate_stream(self, data: bytes, rng: random.Random) -> tuple[list, bytes] | None:
        stream = parse(data, self.response)
        kinds = apply_ops(self.ops, stream, rng, "h1")
        return (kinds, stream.raw()) if kinds else None

    def structured(self, data, max_size, rng):
        return self.mutate_stream(data, rng)

    def splice(self, data1, data2, max_size, rng):
        a, b = parse(data1, self.response), parse(data2, self.response)
        heads_a = [m for m in a.messages if m.start.text]
        heads_b = [m for m in b.messages if m.start.text]
        if heads_b and heads_a and rng.random() < 0.5:
            m, donor = rng.choice(heads_a), rng.choice(heads_b)
            if donor.fields:
                i = rng.randrange(len(donor.fields))
                m.fields[rng.randrange(len(m.fields) + 1) : 0] = copy.deepcopy(
                    donor.fields[i : i + 1 + rng.randrange(3)]
                )
                return ["h1.fields"], a.raw()
        i, j = rng.randrange(len(a.messages) + 1), rng.randrange(len(b.messages) + 1)
        return ["h1.messages"], Stream(a.messages[:i] + b.messages[j:], b.tail).raw()


def requests(byte_mutate=None) -> Http1:
    """h1_server: what a client sends."""
    return Http1(byte_mutate)


def responses(byte_mutate=None) -> Http1:
    """h1_client: what an upstream answers."""
    return Http1(byte_mutate, response=True)
