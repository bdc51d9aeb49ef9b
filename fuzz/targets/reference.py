"""A small strict HTTP/1.1 message parser written from RFC 9112, independent of the proxy's codecs.

It is the yardstick of the grammar oracle: every message an HTTP/1.1 codec accepts must be one this
parser accepts, with the same meaning. It shares no code with proxy/http (its own token table,
its own regular expressions, its own hop-by-hop list), so a leniency in the codec is not mirrored here.

Strict where RFC 9112 lets a recipient be lenient and proxies get smuggled: CRLF only (no bare LF
or CR), no obs-fold, field names are tokens with no whitespace before the colon, Content-Length is
1*DIGIT and appears once, never with Transfer-Encoding, Transfer-Encoding is exactly `chunked`
(never in HTTP/1.0), chunk-size is 1*HEXDIG with optional chunk extensions, chunk data is followed
by CRLF, a request has at most one Host (exactly one in HTTP/1.1) with a valid uri-host [":" port].

Tolerated on purpose (TOLERATED below): things the grammar forbids but that cannot change framing or
routing, and that common servers accept. Each is listed with its reason; nothing else is tolerated.

Messages that use what the grammar allows but a codec may refuse by policy (other HTTP versions,
CONNECT, whitespace around chunk-extension separators, 17+ digit chunk sizes, ...) get a `note`:
the reverse differential ("a valid request must not be refused") only looks at messages without notes.
"""

import ipaddress
import re
from dataclasses import dataclass, field

from ..field_lists import connection_options, field_members

TOLERATED = {
    "request-target characters": "any visible ASCII is taken; RFC 3986 is stricter (no '\"', '<', '>', "
    "'\\\\', '^', '`', '{', '|', '}', '#'), but the target never changes framing; "
    "a codec may refuse such a path by policy (note target_path_outside_rfc3986)",
    "status-line without SP after the status code": "'HTTP/1.1 200' with no reason phrase: sent by real "
    "servers, and the reason phrase is ignored anyway",
    "empty lines before a status-line": "RFC 9112 2.2 allows them before a request-line; a client skipping "
    "them before a status-line cannot mis-frame either",
}

_TCHAR = b"!#$%&'*+\\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(rb"[" + _TCHAR + rb"]+\Z")
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])\Z")
_DIGITS = re.compile(rb"[0-9]+\Z")
_STATUS = re.compile(rb"[0-9]{3}\Z")
_VISIBLE = re.compile(rb"[\x21-\x7e]+\Z")
# field-value after OWS is stripped: field-vchar, with SP / HTAB only between them
_FIELD_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff](?:[ \t\x21-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?\Z")
_REASON = re.compile(rb"[\t \x21-\x7e\x80-\xff]*\Z")
# uri-host [":" port]: IP-literal in brackets or reg-name (unreserved / pct-encoded / sub-delims)
_HOST = re.compile(
    rb"(?:\[[A-Za-z0-9:.\-_~!$&'()*+,;=]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)"
    rb"(?::[0-9]*)?\Z"
)
# IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ); "v" in either case (RFC 5234 2.3).
_IPV_FUTURE = re.compile(rb"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+\Z")


def is_ip_literal(literal: bytes) -> bool:
    """RFC 3986 3.2.2: IP-literal = "[" ( IPv6address / IPvFuture ) "]", here what is inside the
    brackets. No zone id: RFC 3986 has none (ipaddress would accept "%scope")."""
    if _IPV_FUTURE.match(literal) is not None:
        return True
    try:
        return b"%" not in literal and bool(ipaddress.IPv6Address(literal.decode("ascii")))
    except (ValueError, UnicodeDecodeError):
        return False


def _host_ok(value: bytes) -> bool:
    """uri-host [":" port]; an IP-literal holds an IPv6 address or IPvFuture (RFC 3986 3.2.2)."""
    if _HOST.match(value) is None:
        return False
    return not value.startswith(b"[") or is_ip_literal(value[1 : value.index(b"]")])


_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_TOKEN_RE = rb"[" + _TCHAR + rb"]+"
_CHUNK_EXT = re.compile(
    rb"(?:[ \t]*;[ \t]*" + _TOKEN_RE + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN_RE + rb"|" + _QUOTED + rb"))?)*\Z"
)
_CHUNK_EXT_NO_BWS = re.compile(rb"(?:;" + _TOKEN_RE + rb"(?:=(?:" + _TOKEN_RE + rb"|" + _QUOTED + rb"))?)*\Z")
_HEXDIGITS = re.compile(rb"[0-9A-Fa-f]+")
# RFC 3986 path-absolute of an origin-form target: segments of pchar; then "?" and the query, or the end.
_RFC3986_PATH = re.compile(rb"(?:/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)+(?:\?[^#]*)?\Z")

# RFC 9110 6.5.1: fields a sender must not put in trailers, because they are needed before the
# content is processed. The strict reader notes them in a request (a codec may refuse such a
# trailer) and leaves them out of a response's trailers (a codec drops them there); the peers'
# judge finds one the proxy forwards. Listed by the reasons the section names, with the RFC that defines each.
FORBIDDEN_IN_TRAILERS = frozenset(
    {
        # message framing (RFC 9112 6, RFC 9110 6.4.1, 6.6.2)
        b"transfer-encoding",
        b"content-length",
        b"trailer",
        # connection-specific (RFC 9110 7.6.1, RFC 9113 8.2.2)
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"upgrade",
        b"te",
        # routing (RFC 9110 7.2, 7.6.2)
        b"host",
        b"max-forwards",
        # request modifiers: controls and conditionals (RFC 9110 10.1, 13.1; RFC 9111 5.2, 5.4)
        b"expect",
        b"cache-control",
        b"pragma",
        b"range",
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
        b"if-range",
        # authentication (RFC 9110 11.6, 11.7)
        b"authorization",
        b"proxy-authorization",
        b"www-authenticate",
        b"proxy-authenticate",
        b"authentication-info",
        b"proxy-authentication-info",
        # state management carries credentials too (RFC 6265)
        b"cookie",
        # response control (RFC 9110 10.2, RFC 9111 5)
        b"age",
        b"expires",
        b"date",
        b"location",
        b"retry-after",
        b"vary",
        b"set-cookie",
        b"warning",
        # content format and processing (RFC 9110 8.3, 8.4, 14.4)
        b"content-type",
        b"content-encoding",
        b"content-range",
    }
)

# Meaningful for one hop only (RFC 9110 7.6.1, RFC 9113 8.2.2): not part of what a request means.
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"})

# Bounds the proxy's codecs enforce by policy (CodecLimits defaults); past them a refusal is allowed.
POLICY_MAX_HEAD_BYTES = 60 * 1024
POLICY_MAX_FIELDS = 100
POLICY_MAX_CHUNK_LINE = 4096


class Reject(Exception):
    """The bytes break the strict grammar; `reason` says where."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Message:
    """One message as the reference reads it.

    state: "complete" (head and body parsed), "incomplete" (the bytes ran out), "rejected" (the
    head, or the body after an accepted head, breaks the grammar; `head_ok` tells which).
    """

    state: str
    head_ok: bool = False
    start: tuple = ()  # request: (method, target, version); response: (version, status, reason)
    fields: list = field(default_factory=list)  # (lowercase name, value) in order
    body: bytes = b""
    trailers: list = field(default_factory=list)
    reason: str = ""
    notes: set = field(default_factory=set)  # grammar-valid features a codec may refuse by policy
    response: bool = False  # a status line starts it: the version is its first word, not its third
    at: int = 0  # the offset of its first byte in the bytes parsed

    def values(self, name: bytes) -> list[bytes]:
        return [v for n, v in self.fields if n == name]

    @property
    def version(self) -> bytes:
        """A response's reason phrase may be any text, "HTTP/1.0 ..." included: which word is the
        version follows from the kind of start line, never from what the words look like."""
        if not self.start:
            return b""
        return self.start[0] if self.response else self.start[2]


def meaning_fields(fields: list) -> list:
    """The fields that carry the message's meaning: hop-by-hop fields, fields named by Connection,
    `te` but for its member `trailers` (kept as `te: trailers`), Host, Expect and the framing fields
    removed; names lowercase."""
    named = connection_options(fields)
    out = []
    for name, value in fields:
        name = name.lower()
        if name in HOP_BY_HOP or name in (b"host", b"expect", b"content-length"):
            continue
        if name == b"te":
            # RFC 9110 10.1.4: a TE list with the member `trailers` asks for trailers, whatever else it names
            if b"trailers" in field_members([(name, value)], b"te"):
                out.append((b"te", b"trailers"))
            continue
        if name in named:
            continue
        out.append((name, value))
    return out


def is_token(value: bytes) -> bool:
    return _TOKEN.match(value) is not None


# ----------------------------------------------------------------------------------------- lines
def _line(buf: bytes, pos: int, eof: bool) -> tuple[bytes | None, int]:
    """The line at pos without its CRLF, and the offset after it; (None, pos) when incomplete.
    A bare LF, or a CR not followed by LF, is a Reject."""
    lf = buf.find(b"\n", pos)
    cr = buf.find(b"\r", pos)
    if cr != -1 and (lf == -1 or cr < lf - 1):
        if cr + 1 < len(buf) or eof:
            raise Reject("bare CR")
        return None, pos
    if lf == -1:
        return None, pos
    if lf == pos or buf[lf - 1] != 0x0D:
        raise Reject("bare LF")
    return buf[pos : lf - 1], lf + 1


def _field_line(line: bytes) -> tuple[bytes, bytes]:
    if line[:1] in (b" ", b"\t"):
        raise Reject("obs-fold")
    name, colon, value = line.partition(b":")
    if not colon or not is_token(name):
        raise Reject(f"field name {name[:40]!r} is not a token followed by ':'")
    value = value.strip(b" \t")
    if _FIELD_VALUE.match(value) is None:
        raise Reject(f"invalid byte in the value of {name[:40]!r}")
    return name.lower(), value


def _head(buf: bytes, pos: int, eof: bool) -> tuple[list[bytes] | None, int]:
    """The lines of the head at pos (start line first), and the offset after its empty line."""
    lines: list[bytes] = []
    while True:
        line, nxt = _line(buf, pos, eof)
        if line is None:
            return None, pos
        pos = nxt
        if line == b"":
            return lines, pos
        lines.append(line)


def _skip_empty_lines(buf: bytes, pos: int) -> int:
    while buf.startswith(b"\r\n", pos):
        pos += 2
    return pos


# ------------------------------------------------------------------------------------- framing
def _framing(msg: Message, version: bytes) -> tuple[int | None, bool]:
    lengths, codings = msg.values(b"content-length"), msg.values(b"transfer-encoding")
    if lengths and codings:
        raise Reject("Content-Length with Transfer-Encoding")
    if codings:
        if version == b"HTTP/1.0":
            raise Reject("Transfer-Encoding in HTTP/1.0")
        if [c.lower() for c in codings] != [b"chunked"]:  # coding names are case-insensitive (RFC 9112 7)
            raise Reject("Transfer-Encoding is not exactly one 'chunked'")
        return None, True
    if lengths:
        if len(lengths) != 1:
            raise Reject("Content-Length appears more than once")
        if _DIGITS.match(lengths[0]) is None:
            raise Reject("Content-Length is not 1*DIGIT")
        if len(lengths[0]) > 18:
            msg.notes.add("content_length_over_18_digits")
        return int(lengths[0]), False
    return None, False


def _chunked(buf: bytes, pos: int, eof: bool, msg: Message) -> int | None:
    """Reads a chunked body into msg; returns the offset after it, None when incomplete."""
    body = bytearray()
    while True:
        line, nxt = _line(buf, pos, eof)
        if line is None:
            return None
        if len(line) + 2 > POLICY_MAX_CHUNK_LINE:
            msg.notes.add("chunk_line_over_policy_limit")
        digits = _HEXDIGITS.match(line)
        if digits is None:
            raise Reject(f"chunk-size {line[:20]!r} is not 1*HEXDIG")
        ext = line[digits.end() :]
        if _CHUNK_EXT.match(ext) is None:
            raise Reject("malformed chunk extension")
        if _CHUNK_EXT_NO_BWS.match(ext) is None:
            msg.notes.add("whitespace_in_chunk_extension")
        if len(digits.group()) > 16:
            msg.notes.add("chunk_size_over_16_digits")
        size = int(digits.group(), 16)
        pos = nxt
        if size == 0:
            break
        if len(buf) - pos < size + 2:
            if len(buf) - pos > size and buf[pos + size] != 0x0D:
                raise Reject("chunk data not followed by CRLF")
            return None
        body += buf[pos : pos + size]
        if buf[pos + size : pos + size + 2] != b"\r\n":
            raise Reject("chunk data not followed by CRLF")
        pos += size + 2
    msg.body = bytes(body)
    lines = 0
    while True:
        line, nxt = _line(buf, pos, eof)
        if line is None:
            return None
        pos = nxt
        if line == b"":
            return pos
        lines += 1
        if lines > POLICY_MAX_FIELDS:
            # The field count limit holds for trailers too: Envoy's max_headers_count (default 100)
            # bounds the header map its HTTP/1 codec is filling, trailers included (431 / reset).
            msg.notes.add("trailers_over_policy_limit")
        name, value = _field_line(line)
        if name in FORBIDDEN_IN_TRAILERS and msg.start[0].startswith(b"HTTP/"):
            continue  # a response's: a recipient may discard it (RFC 9110 6.5.1), and a proxy must not cut the response
        if name in FORBIDDEN_IN_TRAILERS:
            msg.notes.add("field_not_allowed_in_trailers")
        msg.trailers.append((name, value))


def _body(
    buf: bytes, pos: int, eof: bool, msg: Message, length: int | None, chunked: bool, until_close: bool
) -> int | None:
    if chunked:
        return _chunked(buf, pos, eof, msg)
    if length is not None:
        if len(buf) - pos < length:
            return None
        msg.body = buf[pos : pos + length]
        return pos + length
    if until_close:
        if not eof:
            return None
        msg.body = buf[pos:]
        return len(buf)
    return pos


def _head_notes(msg: Message, head_bytes: int) -> None:
    if head_bytes > POLICY_MAX_HEAD_BYTES:
        msg.notes.add("head_over_policy_limit")
    if len(msg.fields) > POLICY_MAX_FIELDS:
        msg.notes.add("fields_over_policy_limit")


# ------------------------------------------------------------------------------------ requests
def _request_head(lines: list[bytes], msg: Message) -> None:
    _request_line(lines[0], msg)
    msg.fields = [_field_line(line) for line in lines[1:]]
    hosts = msg.values(b"host")
    if len(hosts) > 1:
        raise Reject("more than one Host")
    if msg.start[2] == b"HTTP/1.1" and not hosts:
        raise Reject("HTTP/1.1 request without Host")
    if hosts and not _host_ok(hosts[0]):
        raise Reject(f"Host {hosts[0][:40]!r} is not uri-host [':' port]")
    if hosts and hosts[0].startswith(b":"):
        raise Reject("Host with a port and an empty host (RFC 9110 4.2.1: such a URI is invalid)")


def _request_line(line: bytes, msg: Message) -> None:
    parts = line.split(b" ")
    if len(parts) != 3:
        raise Reject("request-line is not method SP request-target SP HTTP-version")
    method, target, version = parts
    if not is_token(method):
        raise Reject("method is not a token")
    if _VISIBLE.match(target) is None:
        raise Reject("request-target is empty or has a non-visible byte")
    v = _VERSION.match(version)
    if v is None:
        raise Reject("HTTP-version is not HTTP/DIGIT.DIGIT")
    if version not in (b"HTTP/1.0", b"HTTP/1.1"):
        msg.notes.add("http_version_other_than_1.x")
    if method == b"CONNECT":
        msg.notes.add("connect")
    if method == b"PRI":  # RFC 9113 3.4, 11.6: the HTTP/2 preface's method; a proxy may refuse it
        msg.notes.add("pri_method")
    lower = target.lower()
    if target.startswith(b"/"):
        if _RFC3986_PATH.match(target) is None:
            msg.notes.add("target_path_outside_rfc3986")
    elif target == b"*":
        if method != b"OPTIONS":
            msg.notes.add("asterisk_form_not_options")
    elif lower.startswith((b"http://", b"https://")):
        authority = absolute_form_parts(target)[1]
        if not authority or not _host_ok(authority) or authority.startswith(b":"):
            raise Reject("absolute-form target without a valid host (RFC 9110 4.2.1)")
        if _RFC3986_PATH.match(absolute_form_parts(target)[2]) is None:
            msg.notes.add("target_path_outside_rfc3986")
    elif re.match(rb"[A-Za-z][A-Za-z0-9+\-.]*:", target):
        msg.notes.add("absolute_form_other_scheme")
    elif method != b"CONNECT":
        raise Reject("request-target is not origin-, absolute-, authority- or asterisk-form")
    msg.start = (method, target, version)


def parse_requests(buf: bytes, eof: bool = True) -> list[Message]:
    """Every request in buf, in order. Parsing stops at the first rejected or incomplete message,
    and after a message that ends the connection (HTTP/1.0, or `Connection: close`)."""
    out: list[Message] = []
    pos = 0
    while True:
        pos = _skip_empty_lines(buf, pos)
        if pos >= len(buf):
            return out
        msg = Message("incomplete", at=pos)
        out.append(msg)
        try:
            start = pos
            lines, pos = _head(buf, pos, eof)
            if lines is None:
                return out
            _request_head(lines, msg)
            _head_notes(msg, pos - start)
            length, chunked = _framing(msg, msg.start[2])
            msg.head_ok = True
            end = _body(buf, pos, eof, msg, length, chunked, until_close=False)
        except Reject as e:
            msg.state, msg.reason = "rejected", e.reason
            return out
        if end is None:
            return out
        msg.state = "complete"
        pos = end
        if ends_connection(msg):
            return out


def unfinished_request_line_rejected(buf: bytes) -> str | None:
    """Why the request-line of the unfinished request head the bytes end in (whole, its CRLF read,
    the head's empty line not yet) already breaks the grammar; None when it does not, or when the
    bytes do not end in such a head. No byte after it can mend the line, so a server can refuse
    without waiting for the head's end (the request-side twin of unfinished_head_rejected)."""
    ref = parse_requests(buf, eof=False)
    if not ref or ref[-1].state != "incomplete" or ref[-1].head_ok:
        return None
    line, _ = _line(buf, _skip_empty_lines(buf, ref[-1].at), eof=False)
    if line is None:
        return None
    try:
        _request_line(line, Message("incomplete"))
    except Reject as e:
        return e.reason
    return None


def absolute_form_parts(target: bytes) -> tuple[bytes, bytes, bytes]:
    """(scheme, authority, origin-form path and query) of an http(s) absolute-form target:
    the authority ends at the first '/', '?' or '#', and an empty path is '/' (RFC 9110 4.2.3)."""
    scheme, _, rest = target.partition(b"://")
    end = min([i for i in (rest.find(b"/"), rest.find(b"?"), rest.find(b"#")) if i != -1], default=len(rest))
    path = rest[end:]
    return scheme.lower(), rest[:end], path if path.startswith(b"/") else b"/" + path


def ends_connection(msg: Message) -> bool:
    return msg.version != b"HTTP/1.1" or b"close" in connection_options(msg.fields)


# ----------------------------------------------------------------------------------- responses
def _response_head(lines: list[bytes], msg: Message) -> None:
    parts = lines[0].split(b" ", 2)
    version = parts[0]
    if _VERSION.match(version) is None:
        raise Reject("HTTP-version is not HTTP/DIGIT.DIGIT")
    if version not in (b"HTTP/1.0", b"HTTP/1.1"):
        msg.notes.add("http_version_other_than_1.x")
    if len(parts) < 2 or _STATUS.match(parts[1]) is None:
        raise Reject("status-code is not 3DIGIT")
    reason = parts[2] if len(parts) == 3 else b""
    if _REASON.match(reason) is None:
        raise Reject("invalid byte in the reason-phrase")
    if parts[1] == b"101":
        msg.notes.add("switching_protocols")
    if not b"100" <= parts[1] <= b"599":
        # RFC 9110 15: "Values outside the range 100..599 are invalid"; a client "SHOULD process the
        # response as if it had a 5xx" status, which a proxy's 502 does.
        msg.notes.add("status_outside_100_599")
    msg.start = (version, parts[1], reason)
    msg.response = True
    msg.fields = [_field_line(line) for line in lines[1:]]


def unfinished_head_rejected(buf: bytes, request_method: bytes) -> str | None:
    """Why the whole lines of the response head the bytes end in (no empty line after them yet)
    already break the grammar, each judged on its own (the status-line, a field line, a bare CR or
    LF); None when they do not, or when the bytes do not end in an unfinished head. No byte after
    them can mend such a line, so a recipient can refuse without waiting for the head's end."""
    ref = parse_responses(buf, request_method, eof=False)
    if not ref or ref[-1].state != "incomplete" or ref[-1].head_ok:
        return None
    pos, lines = ref[-1].at, []
    try:
        line, pos = _line(buf, pos, eof=False)
        while line is not None:
            lines.append(line)
            line, pos = _line(buf, pos, eof=False)
        if lines:
            _response_head(lines, Message("incomplete"))
    except Reject as e:
        return e.reason
    return None


def parse_responses(buf: bytes, request_method: bytes, eof: bool = True) -> list[Message]:
    """The interim responses and the final response to one request, in order. Bytes after the final
    response are a rejected message: nothing was asked for them."""
    out: list[Message] = []
    pos = 0
    final_done = False
    while True:
        pos = _skip_empty_lines(buf, pos)
        if pos >= len(buf):
            return out
        msg = Message("incomplete", at=pos)
        out.append(msg)
        if final_done:
            msg.state, msg.reason = "rejected", "bytes after the final response"
            return out
        try:
            start = pos
            lines, pos = _head(buf, pos, eof)
            if lines is None:
                return out
            _response_head(lines, msg)
            _head_notes(msg, pos - start)
            status = int(msg.start[1])
            length, chunked = _framing(msg, msg.start[0])
            if (100 <= status < 200 or status == 204) and (chunked or length):
                # RFC 9110 8.6, RFC 9112 6.1: no message body length in a 1xx or 204 (a zero
                # Content-Length frames nothing); a recipient reading one would misframe what follows.
                raise Reject(f"a {status} response with Transfer-Encoding or a non-zero Content-Length")
            if 100 <= status < 200 or status == 204:
                msg.fields = [f for f in msg.fields if f[0] != b"content-length"]  # "0" frames nothing
            msg.head_ok = True
            end: int | None  # None: the body is not complete yet
            if 100 <= status < 200 or status in (204, 304) or request_method == b"HEAD":
                end = pos
            else:
                end = _body(buf, pos, eof, msg, length, chunked, until_close=True)
        except Reject as e:
            msg.state, msg.reason = "rejected", e.reason
            return out
        if end is None:
            return out
        msg.state = "complete"
        pos = end
        final_done = not 100 <= int(msg.start[1]) < 200
