"""Three independent HTTP/1.1 parsers over the same bytes, and the oracle that they agree.

h11 (python-hyper), the standard library (request line split as http.server does, fields by
http.client.parse_headers, framing by RFC 9112 6 written here; responses by http.client.HTTPResponse)
and llhttp (Node.js's parser, through httptools) each read a byte stream into complete messages.
Bytes a proxy writes must mean one thing: the three must agree on the number of messages, where each
ends (its body), and on its method, target, status, fields and trailers. A stream that stops in the
middle of a message is read up to its last complete message by all three (a cut is an ending, judged
elsewhere); bytes any parser refuses are a finding (the proxy's bytes must be plain HTTP/1.1 to every reader).

InvariantViolation names: <prefix>_<parser>_rejects (a parser refuses bytes another read as
messages), <prefix>_count_mismatch (framing: a different number of messages),
<prefix>_<field>_mismatch. The prefix is the caller's (translate_, peer_h1_...).
"""

import io
from http import client as http_client

import httptools

from ..oracles import InvariantViolation
from ..targets.reference import meaning_fields
from .record import Message

MAX_MESSAGES = 64


class Refused(Exception):
    """The parser refuses the bytes (not a cut at the end)."""


class ParserLimit(Exception):
    """A limit of one parser, not a disagreement: http.client's cap of 100 fields per head, llhttp's
    fixed list of methods (RFC 9110 9.1 allows any token). Such input is compared by the others."""


def comparable(fields) -> list:
    """Fields as a message's meaning: hop-by-hop, host, expect, content-length and te removed (the
    codecs choose framing and never forward te), names lowercase, ordered by name (the order of
    fields with different names carries no meaning, RFC 9110 5.3; a stable sort keeps the order
    of each name's lines)."""
    out = []
    for n, v in meaning_fields([(bytes(n).lower(), bytes(v)) for n, v in fields]):
        if n == b"cookie":  # one field or several, joined by "; ": the same crumbs (RFC 9113 8.2.3)
            out += [(n, c.strip()) for c in v.split(b";") if c.strip()]
        elif n != b"te":
            out.append((n, v))
    return sorted(out, key=lambda f: f[0])


# ---------------------------------------------------------------------------------------------- h11
def h11_messages(wire: bytes, requests: bool, methods=(), eof: bool = False) -> list[Message]:
    """Complete messages h11 reads; Refused when it refuses bytes. Responses answer `methods` in order;
    `eof`: the connection ended after `wire` (a body delimited by the close is complete)."""
    from .h1_stream import RequestStream, ResponseStream

    stream: RequestStream | ResponseStream
    if requests:
        stream = RequestStream()
    else:
        stream = responses = ResponseStream()
        for m in methods:
            responses.expect(m)
    stream.feed(wire, 0, eof=eof)
    if stream.error is not None:
        raise Refused(stream.error)
    return [m for m in stream.messages if m.complete]


# ---------------------------------------------------------------------------------------- llhttp
class _Collector:
    def __init__(self, requests: bool) -> None:
        self.requests = requests
        self.parser: httptools.HttpRequestParser | httptools.HttpResponseParser | None = None
        self.messages: list[Message] = []
        self.current: Message | None = None
        self.in_body = False

    def on_message_begin(self):
        self.current, self.in_body = Message(), False

    def on_url(self, url):
        self.current.target += url

    def on_header(self, name, value):
        (self.current.trailers if self.in_body else self.current.headers).append((bytes(name).lower(), bytes(value)))

    def on_headers_complete(self):
        msg, self.in_body = self.current, True
        if self.requests:
            msg.method = bytes(self.parser.get_method())
            msg.authority = msg.header(b"host") or b""
        else:
            msg.status = self.parser.get_status_code()

    def on_body(self, body):
        self.current.body += body

    def on_message_complete(self):
        self.current.complete = True
        if self.requests or self.current.status >= 200:
            self.messages.append(self.current)


def llhttp_messages(wire: bytes, requests: bool) -> list[Message]:
    """Complete messages llhttp reads (responses: only while they need no request method to frame)."""
    sink = _Collector(requests)
    sink.parser = parser = (httptools.HttpRequestParser if requests else httptools.HttpResponseParser)(sink)
    try:
        parser.feed_data(wire)
    except httptools.HttpParserUpgrade:
        pass  # CONNECT or Upgrade: the rest is not HTTP/1.1
    except httptools.HttpParserError as e:
        if "method" in str(e).lower():
            raise ParserLimit(str(e)) from None
        raise Refused(f"llhttp: {e}") from None
    return sink.messages


# ---------------------------------------------------------------------------------------- stdlib
def _line(stream: io.BytesIO, end: int) -> bytes | None:
    line = stream.readline(65537)
    if not line.endswith(b"\r\n"):
        if stream.tell() >= end:
            return None  # cut short
        raise Refused(f"line not ended by CRLF: {line[:80]!r}")
    return line[:-2]


def _over_field_cap(e: Exception) -> bool:
    """http.client's cap of 100 fields per head (its _MAXHEADERS): no RFC limit, and a proxy adds
    fields to a response whose upstream sent up to the codec's own limit of 100, as Envoy does."""
    return not isinstance(e, http_client.LineTooLong) and "more than" in str(e) and "headers" in str(e)


def _fields(stream: io.BytesIO) -> list:
    try:
        msg = http_client.parse_headers(stream)
    except http_client.HTTPException as e:
        if "more than" in str(e):
            raise ParserLimit(str(e)) from None
        raise Refused(f"parse_headers: {e!r}") from None
    defects = [d for d in msg.defects if "Boundary" not in type(d).__name__ and "Multipart" not in type(d).__name__]
    if defects:  # (a multipart content-type without its boundary is MIME's business, not HTTP framing)
        raise Refused(f"header defects {defects!r}")
    return [(n.encode("latin-1").lower(), v.encode("latin-1")) for n, v in msg.items()]


def stdlib_requests(wire: bytes) -> list[Message]:
    """Requests as the standard library reads them: request line split on single spaces (as
    http.server does), fields by http.client.parse_headers (email.parser), body framed here
    (RFC 9112 6.3: chunked, else Content-Length, else none)."""
    stream, end = io.BytesIO(wire), len(wire)
    out: list[Message] = []
    while stream.tell() < end and len(out) < MAX_MESSAGES:
        start = stream.tell()
        line = _line(stream, end)
        if line is None:
            break
        parts = line.split(b" ")
        if len(parts) != 3 or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
            raise Refused(f"request line {line[:120]!r}")
        if wire.find(b"\r\n\r\n", start) < 0:
            break  # head cut short
        fields = _fields(stream)
        msg = Message(method=parts[0], target=parts[1], headers=fields)
        msg.authority = msg.header(b"host") or b""
        te, cl = [v for n, v in fields if n == b"transfer-encoding"], [v for n, v in fields if n == b"content-length"]
        if te and cl or len(cl) > 1 or len(te) > 1:
            raise Refused(f"ambiguous framing: te={te} cl={cl}")
        if te:
            if te[0].strip().lower() != b"chunked":
                raise Refused(f"transfer-encoding {te}")
            if not _chunks(stream, end, msg):
                break
        elif cl:
            if not cl[0].strip().isdigit():
                raise Refused(f"content-length {cl[0]!r}")
            n = int(cl[0])
            msg.body += stream.read(n)
            if len(msg.body) != n:
                break
        msg.complete = True
        out.append(msg)
    return out


def _chunks(stream: io.BytesIO, end: int, msg: Message) -> bool:
    """Read a chunked body and its trailers into msg; False when the bytes stop first."""
    while True:
        line = _line(stream, end)
        if line is None:
            return False
        size_text = line.split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise Refused(f"chunk size {line[:40]!r}") from None
        if size == 0:
            break
        data = stream.read(size)
        msg.body += data
        if len(data) < size:
            return False
        crlf = _line(stream, end)
        if crlf is None:
            return False
        if crlf:
            raise Refused("chunk data not followed by CRLF")
    rest = stream.getvalue()[stream.tell() :]
    if b"\r\n\r\n" not in rest and not rest.startswith(b"\r\n"):
        return False
    msg.trailers = _fields(stream)
    return True


class _File(io.BytesIO):
    def close(self):  # http.client closes the file at the end of each response; the next one reads on
        pass


class _Sock:
    def __init__(self, data: bytes) -> None:
        self.file = _File(data)

    def makefile(self, mode):
        return self.file


def _head_ended(wire: bytes, pos: int) -> bool:
    """The head (or a chunked body's trailer section) read up to `pos` ended with its empty line
    (RFC 9112 2.1, 7.1.2), not with the bytes."""
    return wire.endswith(b"\n\n", 0, pos) or wire.endswith(b"\n\r\n", 0, pos)


def stdlib_responses(wire: bytes, methods, eof: bool = False) -> list[Message]:
    """Responses as http.client.HTTPResponse reads them, one after another on the same bytes."""
    sock = _Sock(wire)
    out: list[Message] = []
    methods = list(methods)
    while sock.file.tell() < len(wire) and len(out) < MAX_MESSAGES:
        method = methods[len(out)] if len(out) < len(methods) else b"GET"
        resp = http_client.HTTPResponse(sock, method=method.decode("latin-1"))  # type: ignore[arg-type]  # only makefile("rb") is called
        try:
            resp.begin()
            if not _head_ended(wire, sock.file.tell()):
                break  # http.client ends a head at the end of the bytes too: this one is cut short
            if (
                resp.length is None
                and not resp.chunked
                and resp.will_close
                and not eof
                and resp.status >= 200
                and resp.status not in (204, 304)
                and method != b"HEAD"
            ):
                break  # delimited by the close, which has not come
            body = resp.read()
            if resp.chunked and not _head_ended(wire, sock.file.tell()):
                break  # http.client ends the trailer section at the end of the bytes too: cut short
        except http_client.IncompleteRead:
            break
        except (http_client.HTTPException, ValueError) as e:
            if _over_field_cap(e):
                raise ParserLimit(str(e)) from None
            if sock.file.tell() >= len(wire) and not isinstance(e, http_client.LineTooLong):
                break  # cut short
            raise Refused(f"http.client: {e!r}") from None
        if resp.status < 200:
            continue
        msg = Message(
            status=resp.status,
            body=bytearray(body),
            complete=True,
            headers=[(n.encode("latin-1").lower(), v.encode("latin-1")) for n, v in resp.msg.items()],
        )
        out.append(msg)
        if resp.will_close:
            break
    return out


# ---------------------------------------------------------------------------------------- oracle
def key(msg: Message, requests: bool) -> tuple:
    head = (msg.method, msg.target, msg.authority) if requests else (msg.status,)
    return head + (tuple(comparable(msg.headers)), bytes(msg.body), tuple(comparable(msg.trailers)))


FIELDS = {
    True: ("method", "target", "authority", "headers", "body", "trailers"),
    False: ("status", "headers", "body", "trailers"),
}


def agree(
    prefix: str,
    what: str,
    wire: bytes,
    requests: bool,
    methods=(),
    reference: list | None = None,
    eof: bool = False,
    h11_read: list | None = None,
) -> list[Message]:
    """The three parsers read `wire` (requests, or responses to `methods`) the same way; returns
    h11's messages. `reference`: messages that must also agree (what the proxy meant to send);
    `eof`: the connection ended after `wire`; `h11_read`: h11's messages when a peer already read
    `wire` with it (h1_stream), so it is not parsed twice."""
    parsed: dict[str, list[Message]] = {}
    refused: dict[str, str] = {}
    head_at = None if requests else next((i for i, m in enumerate(methods) if m in (b"HEAD", b"CONNECT")), None)
    for name, parse in (
        ("h11", lambda: h11_read if h11_read is not None else h11_messages(wire, requests, methods, eof)),
        ("stdlib", lambda: stdlib_requests(wire) if requests else stdlib_responses(wire, methods, eof)),
        ("llhttp", lambda: llhttp_messages(wire, requests)),
    ):
        try:
            parsed[name] = parse()
        except Refused as e:
            if name == "llhttp" and head_at is not None:
                continue  # llhttp read a HEAD answer's body from the next response: it cannot be told
            refused[name] = str(e)
        except ParserLimit:
            pass
    partial = set()  # parsers read only a prefix of the messages
    if not requests and eof and "llhttp" in parsed:
        partial.add("llhttp")  # httptools cannot be told the stream ended (a close-delimited body)
    if head_at is not None and "llhttp" in parsed:
        # llhttp cannot be told that a response answers HEAD: it is compared up to the first such answer.
        parsed["llhttp"] = parsed["llhttp"][:head_at]
        partial.add("llhttp")
    if refused:
        name, reason = next(iter(refused.items()))
        readers = (
            f"{', '.join(parsed)} read {max(len(m) for m in parsed.values())} message(s)"
            if parsed
            else "no parser reads it"
        )
        raise InvariantViolation(f"{prefix}_{name}_rejects", f"{what}: {reason}; {readers}, from {wire[:200]!r}")
    if reference is not None:
        parsed = {"the proxy": reference, **parsed}
    if any(len(msgs) >= MAX_MESSAGES for msgs in parsed.values()):
        # The standard library's reader stops at MAX_MESSAGES (a cost bound): all are compared that far.
        parsed = {name: msgs[:MAX_MESSAGES] for name, msgs in parsed.items()}
    # http.client reads a chunked response's trailer section and throws it away: it cannot say what it read.
    blind = {"stdlib"} if not requests else set()
    (base_name, base), *others = parsed.items()
    for name, msgs in others:
        if len(msgs) != len(base) and not (name in partial and len(msgs) < len(base)):
            raise InvariantViolation(
                f"{prefix}_count_mismatch",
                f"{what}: {base_name} reads {len(base)} message(s), {name} reads {len(msgs)}: {wire[:300]!r}",
            )
        for i, (a, b) in enumerate(zip(base, msgs)):
            for field, x, y in zip(FIELDS[requests], key(a, requests), key(b, requests)):
                if x != y and not (field == "trailers" and {name, base_name} & blind):
                    raise InvariantViolation(
                        f"{prefix}_{field}_mismatch",
                        f"{what}, message {i + 1}: {base_name} reads {x!r}, {name} reads {y!r}",
                    )
    return parsed.get("h11", [])
