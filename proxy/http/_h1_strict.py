"""Strict HTTP/1.1 framing, checked on the raw bytes before h11 sees them.

h11 is lenient where proxies get smuggled (bare LF, obs-fold, Content-Length with
Transfer-Encoding, ...). This module finds each message head and each chunk-size line in the raw
stream, rejects everything RFC 9112 lets a recipient reject, and tells the codec how many bytes are
safe to hand to h11. h11 then parses exactly the bytes checked here, nothing more.
"""

import re
from dataclasses import dataclass

from proxy.http.headers import (
    TRAILER_FORBIDDEN,
    empty_host_with_port,
    is_authority,
    is_content_length,
    is_field_value,
    is_target,
    is_token,
    target_problem,
    PRI_IS_THE_PREFACE,
)

HEX = frozenset(b"0123456789abcdefABCDEF")
MAX_CHUNK_SIZE_DIGITS = 16  # 2**64 - 1: anything longer is an over-long size
# RFC 9112 7.1.1 chunk-ext without BWS: *( ";" token [ "=" ( token / quoted-string ) ] ), where a
# quoted-string (RFC 9110 5.6.4) is qdtext and quoted-pairs, so it may hold ';', '=' and '\"'.
_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_CHUNK_EXT = re.compile(rb"(?:;" + _TCHAR + rb"+(?:=(?:" + _TCHAR + rb"+|" + _QUOTED + rb"))?)*\Z")


class FramingError(Exception):
    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Head:
    start: tuple[bytes, bytes, bytes]  # request: method, target, version; response: version, status, reason
    fields: list[tuple[bytes, bytes]]  # (lowercase name, value with OWS stripped)
    content_length: int | None
    chunked: bool

    def values(self, name: bytes) -> list[bytes]:
        return [v for n, v in self.fields if n == name]


def find_head(buf: bytearray, scanned: int, max_bytes: int) -> tuple[int | None, int]:
    """Look for the end of a head in buf. Returns (end offset after CRLFCRLF or None, new scan offset).

    Raises FramingError on a bare LF (rejected as soon as it is seen) or when the head would exceed
    max_bytes (431). `scanned` lets byte-at-a-time feeding stay linear.
    """
    start = max(0, scanned - 3)
    i = buf.find(b"\n", start)
    while i != -1:
        if i == 0 or buf[i - 1] != 0x0D:
            raise FramingError("bare LF line ending in the message head")
        if i >= 3 and buf[i - 3 : i + 1] == b"\r\n\r\n":
            if i + 1 > max_bytes:
                raise FramingError("message head larger than the limit", 431)
            return i + 1, i + 1
        i = buf.find(b"\n", i + 1)
    if len(buf) > max_bytes:
        raise FramingError("message head larger than the limit", 431)
    return None, len(buf)


# A field line every check below accepts: a token, a colon, then value bytes (OWS included), so the
# common line is judged by one C call; any other line goes through the checks, which say what is wrong.
_VALID_FIELD_LINE = re.compile(rb"(" + _TCHAR + rb"+):([\t\x20-\x7e\x80-\xff]*)\Z")


def _parse_fields(lines: list[bytes], max_headers: int) -> list[tuple[bytes, bytes]]:
    if len(lines) > max_headers:
        raise FramingError(f"more than {max_headers} header fields", 431)
    fields = []
    valid_line = _VALID_FIELD_LINE.match
    for line in lines:
        valid = valid_line(line)
        if valid is not None:
            fields.append((valid[1].lower(), valid[2].strip(b" \t")))
            continue
        if line[:1] in (b" ", b"\t"):
            raise FramingError("obs-fold (line folding) in the header section")
        if b"\r" in line:
            raise FramingError("bare CR in the header section")
        colon = line.find(b":")
        if colon <= 0:
            raise FramingError("header line without a field name and colon")
        name = line[:colon]
        if not is_token(name):
            raise FramingError(f"header name {name[:64]!r} is not a token (whitespace before the colon?)")
        value = line[colon + 1 :].strip(b" \t")
        if not is_field_value(value):
            raise FramingError(f"CR, LF, NUL or control character in the value of {name[:64]!r}")
        fields.append((name.lower(), value))
    return fields


def _framing(fields: list[tuple[bytes, bytes]], version: bytes) -> tuple[int | None, bool]:
    lengths = [v for n, v in fields if n == b"content-length"]
    codings = [v for n, v in fields if n == b"transfer-encoding"]
    if lengths and codings:
        raise FramingError("Content-Length together with Transfer-Encoding")
    if len(lengths) > 1:
        raise FramingError("duplicate Content-Length")
    if codings:
        if version == b"HTTP/1.0":
            raise FramingError("Transfer-Encoding in an HTTP/1.0 message")
        # Transfer-coding names are case-insensitive (RFC 9112 7; Envoy and h11 agree): `Chunked` is
        # chunked. We re-frame what we forward, so no upstream sees the spelling.
        if len(codings) != 1 or codings[0].lower() != b"chunked":
            raise FramingError("Transfer-Encoding other than exactly 'chunked'")
        return None, True
    if lengths:
        if not is_content_length(lengths[0]):
            raise FramingError("Content-Length is not a plain decimal number")
        return int(lengths[0]), False
    return None, False


_VERSIONS = (b"HTTP/1.1", b"HTTP/1.0")
_VERSION_SHAPE = (b"H", b"T", b"T", b"P", b"/", b"0123456789", b".", b"0123456789")


def check_request_line(line: bytes, whole: bool = True) -> tuple[bytes, bytes, bytes]:
    """method, target and version of a request line (without its CRLF), or the FramingError that
    refuses it. Judged left to right, so that a line still arriving (`whole` False) is refused at
    its first byte no line could mend (a method byte that is no tchar, binary bytes, a TLS
    ClientHello): the 400 comes at once, as from Envoy's incremental parser, not at the stream idle
    timeout. Any prefix of a line meets the refusal the whole line meets."""
    method, sp, rest = line.partition(b" ")
    if not is_token(method) and (method or sp):
        raise FramingError("request method is not a token")
    target, sp2, version = rest.partition(b" ")
    if sp and target and not is_target(target) or sp2 and not target:
        raise FramingError("invalid byte in the request target")
    if version not in _VERSIONS and (
        len(version) > 8 or any(c not in shape for c, shape in zip(version, _VERSION_SHAPE))
    ):
        raise FramingError("malformed HTTP version")
    if not whole:
        return method, target, version
    if not sp2:
        raise FramingError("request line is not 'method SP target SP version'")
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise (
            FramingError("HTTP version not supported", 505)
            if len(version) == 8
            else FramingError("malformed HTTP version")
        )
    if method == b"CONNECT":
        raise FramingError("CONNECT is not supported", 501)
    if method == b"PRI":
        raise FramingError(PRI_IS_THE_PREFACE)
    if not (
        target.startswith(b"/")
        or target.lower().startswith((b"http://", b"https://"))
        or (target == b"*" and method == b"OPTIONS")
    ):
        raise FramingError("request target is not origin-form, absolute-form or '*'")
    return method, target, version


def parse_request_head(head: bytes, max_headers: int) -> Head:
    """head ends with CRLFCRLF and has no bare LF (find_head checked)."""
    lines = head[:-4].split(b"\r\n")
    method, target, version = check_request_line(lines[0])
    fields = _parse_fields(lines[1:], max_headers)
    hosts = [v for n, v in fields if n == b"host"]
    if len(hosts) > 1:
        raise FramingError("several Host fields")
    if version == b"HTTP/1.1" and not hosts:
        raise FramingError("HTTP/1.1 request without Host")
    if hosts and not is_authority(hosts[0]):
        raise FramingError("Host is not uri-host [':' port]")
    if hosts and empty_host_with_port(hosts[0]):
        raise FramingError("Host with a port and no host")
    path = target
    if target[:8].lower().startswith((b"http://", b"https://")):
        authority = target.split(b"://", 1)[1]
        for sep in (b"/", b"?", b"#"):
            authority = authority.split(sep, 1)[0]
        if not authority or authority.startswith(b":") or not is_authority(authority):
            raise FramingError("absolute-form target without a valid host")
        path = target[target.index(b"://") + 3 + len(authority) :]
        path = path if path.startswith(b"/") else b"/" + path
    problem = target_problem(path) if path != b"*" else None
    if problem is not None:
        raise FramingError(problem)
    length, chunked = _framing(fields, version)
    return Head((method, target, version), fields, length, chunked)


def check_status_version(start: bytes) -> None:
    """The first bytes of a status line (at most 9, the head may still be arriving) must spell
    HTTP/1.1 or HTTP/1.0: binary bytes or a TLS record from an upstream are refused at once (Envoy's
    incremental parser: a 503 now, not the route timeout's 504). parse_response_head judges the
    version first too, so any split of the input meets the same refusal."""
    version, sp, _ = start.partition(b" ")
    if version not in _VERSIONS if sp else not any(v.startswith(version) for v in _VERSIONS):
        raise FramingError("unsupported HTTP version in the status line")


def check_status_line(line: bytes) -> tuple[bytes, bytes, bytes]:
    """version, status and reason of a whole status line (without its CRLF), or the FramingError
    that refuses it."""
    check_status_version(line[:9])
    parts = line.split(b" ", 2)
    if len(parts) < 2:
        raise FramingError("status line is not 'version SP status SP reason'")
    version, status = parts[0], parts[1]
    reason = parts[2] if len(parts) == 3 else b""
    if len(status) != 3 or not status.isdigit() or status[0:1] == b"0":
        raise FramingError("status code is not three digits")
    if not is_field_value(reason):
        raise FramingError("control character in the reason phrase")
    return version, status, reason


def parse_response_head(head: bytes, max_headers: int) -> Head:
    lines = head[:-4].split(b"\r\n")
    version, status, reason = check_status_line(lines[0])
    fields = _parse_fields(lines[1:], max_headers)
    length, chunked = _framing(fields, version)
    return Head((version, status, reason), fields, length, chunked)


class ResponseHeadLines:
    """A response head judged line by line while it arrives, so that an upstream sending a garbled
    line and then nothing (no blank line, no close) is a protocol error at once, a 503 flagged UPE,
    not the route timeout's 504: Envoy's parser judges the status line at its line end (balsa;
    http-parser judges every byte). Every check parse_response_head makes is made here on the
    lines so far (the status line, each field line, their number, the framing fields), and each
    of them refuses every longer head too, so no later byte could mend what is refused here.
    Lines are judged in the order they came, before find_head looks further (for a bare LF, the
    size limit), so every split of the input meets the first refusal its bytes hold."""

    def __init__(self, max_headers: int, max_bytes: int) -> None:
        self.max_headers = max_headers
        self.max_bytes = max_bytes  # lines ending past it are find_head's to refuse (431)
        self.restart()

    def restart(self) -> None:
        """A new head starts at the start of the buffer."""
        self.judged = 0  # offset after the last whole line judged
        self.version: bytes | None = None
        self.fields: list[tuple[bytes, bytes]] = []

    def judge(self, buf: bytearray) -> None:
        """Judge the whole lines at the start of buf (a head's) not judged yet, up to the empty
        line, a bare LF (find_head refuses it) or the head's size limit."""
        while True:
            lf = buf.find(b"\n", self.judged, self.max_bytes)
            if lf <= self.judged + 1 or buf[lf - 1] != 0x0D:
                return
            line = bytes(buf[self.judged : lf - 1])
            self.judged = lf + 1
            if self.version is None:
                self.version = check_status_line(line)[0]
                continue
            if len(self.fields) == self.max_headers:
                raise FramingError(f"more than {self.max_headers} header fields", 431)
            self.fields += _parse_fields([line], self.max_headers)
            if self.fields[-1][0] in (b"content-length", b"transfer-encoding"):
                _framing(self.fields, self.version)


class ChunkedScanner:
    """Walks a chunked body in the raw stream and validates every size line and trailer line.

    `scan(buf, pos)` returns how far from pos the bytes are checked; `done` turns True after the
    last CRLF of the trailer section. Nothing after that is claimed. A field RFC 9110 6.5.1 keeps
    out of trailers is refused in a request; in a response (`response`) it is dropped, as a recipient
    may (the body before it already went to the client): its line's span within the scanned bytes
    goes to `dropped`, for the codec to cut before h11 reads them (h11 would judge a trailer
    Content-Length or Transfer-Encoding by its value as if it framed the message).
    """

    def __init__(self, max_line: int, max_trailer_bytes: int, max_headers: int, response: bool = False) -> None:
        self._response = response
        self._max_line = max_line
        self._max_trailer_bytes = max_trailer_bytes
        self._max_headers = max_headers
        self._state = "size"  # size | data | data_crlf | trailer
        self._remaining = 0
        self._trailer_bytes = 0
        self._trailer_lines = 0
        self.dropped: list[tuple[int, int]] = []
        self.done = False

    def scan(self, buf: bytearray, pos: int) -> int:
        end = len(buf)
        while pos < end and not self.done:
            if self._state == "data":
                take = min(self._remaining, end - pos)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = "data_crlf"
                continue
            if self._state == "data_crlf":
                if end - pos < 2:
                    if buf[pos] != 0x0D:
                        raise FramingError("chunk data not followed by CRLF")
                    return pos
                if buf[pos : pos + 2] != b"\r\n":
                    raise FramingError("chunk data not followed by CRLF")
                pos += 2
                self._state = "size"
                continue
            line_end = self._line(buf, pos)
            if line_end is None:
                return pos
            line = bytes(buf[pos : line_end - 2])
            if self._state == "size":
                self._size_line(line)
            elif self._trailer_line(line, line_end - pos):
                self.dropped.append((pos, line_end))
            pos = line_end
        return pos

    def _line(self, buf: bytearray, pos: int) -> int | None:
        limit = self._max_line if self._state == "size" else self._max_trailer_bytes - self._trailer_bytes
        i = buf.find(b"\n", pos, pos + limit + 1)
        if i == -1:
            if len(buf) - pos > limit:
                if self._state == "size":
                    raise FramingError("chunk-size line too long")
                raise FramingError("trailer section larger than the limit", 431)
            if buf.find(b"\r", pos, len(buf) - 1) != -1:
                raise FramingError("bare CR in a chunk-size or trailer line")
            return None
        # The earlier fault wins, as when the bytes arrive one at a time.
        if i > pos and buf.find(b"\r", pos, i - 1) != -1:
            raise FramingError("bare CR in a chunk-size or trailer line")
        if i == pos or buf[i - 1] != 0x0D:
            raise FramingError("bare LF in a chunk-size or trailer line")
        return i + 1

    def _size_line(self, line: bytes) -> None:
        size, _, ext = line.partition(b";")
        if not size or len(size) > MAX_CHUNK_SIZE_DIGITS or not all(c in HEX for c in size):
            raise FramingError(f"invalid chunk size {size[:32]!r}")
        if ext or b";" in line:
            self._check_extensions(line[len(size) :])
        self._remaining = int(size, 16)
        self._state = "data" if self._remaining else "trailer"

    @staticmethod
    def _check_extensions(ext: bytes) -> None:
        # Strict chunk-ext: no whitespace anywhere (RFC 9112 allows BWS; a policy refusal).
        if _CHUNK_EXT.match(ext) is None:
            raise FramingError("malformed chunk extension")

    def _trailer_line(self, line: bytes, size: int) -> bool:
        """Checks one trailer line; True when it is to be dropped."""
        self._trailer_bytes += size
        if not line:
            self.done = True
            return False
        self._trailer_lines += 1
        name, value = _parse_fields([line], self._max_headers)[0]
        if self._trailer_lines > self._max_headers:
            raise FramingError("too many trailer fields", 431)
        if name not in TRAILER_FORBIDDEN:
            return False
        if not self._response:
            raise FramingError(f"{name.decode()!r} is not allowed in trailers (RFC 9110 6.5.1)")
        return True
