"""Header field rules shared by the codecs: token syntax, hop-by-hop fields, HTTP/1 <-> HTTP/2 mapping,
and the HTTP/2 -> HTTP/1 downgrade check (docs/architecture.md "Request-smuggling rules")."""

import ipaddress
import re

Headers = list[tuple[bytes, bytes]]

# RFC 9110 tchar.
TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Field value bytes: VCHAR, obs-text, SP, HTAB (no CTL, no DEL).
VALUE_BYTES = frozenset(range(0x20, 0x7F)) | frozenset(range(0x80, 0x100)) | {0x09}
# Request-target bytes: visible ASCII only (no SP, CTL, DEL or obs-text).
TARGET_BYTES = frozenset(range(0x21, 0x7F))

# Connection-specific fields (RFC 9113 8.2.2): meaningful for one hop only, never forwarded.
CONNECTION_SPECIFIC = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"})
REQUEST_PSEUDO = frozenset({b":method", b":scheme", b":authority", b":path"})
# RFC 9113 3.4 and 11.6: PRI is the method of the HTTP/2 connection preface, never of a request; an
# HTTP/1.1 request with it (or one downgraded from HTTP/2) makes HTTP/1.1 servers such as llhttp
# expect the rest of a preface.
PRI_IS_THE_PREFACE = "PRI is the HTTP/2 connection preface's method, never a request's (RFC 9113 3.4)"

# RFC 9110 6.5.1: fields a trailer section cannot carry, as their evaluation is needed before the
# content: message framing, routing, request modifiers (controls and conditionals), authentication
# (and cookies), response control data, and how to process the content. Every codec refuses a
# request whose trailers hold one, drops them from a response's (received_response_trailers) and
# from trailers it sends.
TRAILER_FORBIDDEN = frozenset(
    {
        b"content-length",
        b"transfer-encoding",
        b"trailer",  # framing
        b"host",  # routing
        b"cache-control",
        b"expect",
        b"max-forwards",
        b"pragma",
        b"range",
        b"te",  # request controls
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
        b"if-range",  # conditionals
        b"authorization",
        b"proxy-authorization",
        b"www-authenticate",
        b"proxy-authenticate",
        b"authentication-info",
        b"proxy-authentication-info",
        b"cookie",
        b"set-cookie",  # authentication
        b"age",
        b"date",
        b"expires",
        b"location",
        b"retry-after",
        b"vary",
        b"warning",  # response control data
        b"content-encoding",
        b"content-type",
        b"content-range",  # processing the content
    }
)


# RFC 3986 reg-name bytes (unreserved, sub-delims, "%" of pct-encoded) and IP-literal bytes.
_REG_NAME = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=%")
_HEX = frozenset(b"0123456789abcdefABCDEF")
# RFC 3986 3.2.2 IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
_IPV_FUTURE_TAIL = frozenset(_REG_NAME - {ord("%")}) | frozenset(b":")


def _is_ip_literal(host: bytes) -> bool:
    """What RFC 3986 3.2.2 allows between "[" and "]": IPv6address / IPvFuture (no zone id)."""
    if host[:1] in (b"v", b"V"):
        version, dot, tail = host[1:].partition(b".")
        return (
            bool(version)
            and all(c in _HEX for c in version)
            and bool(dot)
            and bool(tail)
            and all(c in _IPV_FUTURE_TAIL for c in tail)
        )
    if not host or b"%" in host or not host.isascii():
        return False
    try:
        ipaddress.IPv6Address(host.decode("ascii"))
    except ValueError:
        return False
    return True


# RFC 3986 pchar bytes (unreserved, sub-delims, ":", "@"; "%" starts pct-encoded) and "/": a path.
_PATH = _REG_NAME | frozenset(b":@/")
_PATH_TABLE = bytes(sorted(_PATH))


def target_problem(target: bytes) -> str | None:
    """Why an origin-form request target (RFC 9112 3.2.1: absolute-path ["?" query], the form
    HTTP/2 :path takes too) must not be routed or forwarded, or None when it may.

    The path must be RFC 3986 (pchar and "/", every "%" followed by two hex digits): a backend that
    reads "\\" as "/" or decodes a stray "%" differently would route on another path than the
    proxy matched. A "#fragment" is never part of a target (RFC 9110 7.1); Envoy rejects it by
    default since CVE-2021-32779. The query is held to visible ASCII only: browsers send
    [ ] { } | ^ ` " and a stray "%" unencoded there (WHATWG URL's query percent-encode set)."""
    if not target.startswith(b"/"):
        return "request target is not an absolute path"
    path, question, query = target.partition(b"?")
    if b"#" in target:
        return "fragment in the request target"
    if path.translate(None, _PATH_TABLE):
        return f"character outside RFC 3986 in the path {path[:64]!r}"
    at = path.find(b"%")
    while at != -1:
        if len(path) < at + 3 or path[at + 1] not in _HEX or path[at + 2] not in _HEX:
            return f"malformed percent-encoding in the path {path[:64]!r}"
        at = path.find(b"%", at + 3)
    if question and query.translate(None, _TARGET_TABLE):
        return "invalid character in the query"
    return None


# The schemes the proxy serves (an HTTP/2 :scheme; HTTP/1.1 absolute-form, _h1_strict.py).
SCHEMES = (b"http", b"https")


def empty_host_with_port(authority: bytes) -> bool:
    """An authority like ":80": RFC 3986 lets a reg-name be empty, RFC 9110 4.2.1 makes such an http
    URI invalid (a recipient MUST reject it; HTTP/2 :authority is refused so below). An empty Host (a
    target without an authority, RFC 9112 3.2) is not one."""
    return authority.startswith(b":")


def is_authority(b: bytes) -> bool:
    """uri-host [":" port] (RFC 9110 7.2): what a Host field or an absolute-form authority may hold.
    Rejects "/", "?", "#", "@", whitespace and other bytes that would let a Host mean another
    origin to a cache or router than to the origin server."""
    if b.startswith(b"["):
        end = b.find(b"]")
        host, rest = b[1:end], b[end + 1 :]
        if end == -1 or not _is_ip_literal(host) or (rest and rest[:1] != b":"):
            return False
        return not rest[1:] or rest[1:].isdigit()
    host, _, port = b.partition(b":")
    if not all(c in _REG_NAME for c in host):
        return False
    at = host.find(b"%")
    while at != -1:
        if len(host) < at + 3 or host[at + 1] not in _HEX or host[at + 2] not in _HEX:
            return False
        at = host.find(b"%", at + 3)
    return not port or port.isdigit()


# The allowed bytes as deletion tables: for bytes, `not b.translate(None, ALLOWED)` is "every byte
# is allowed", done in C (these checks run for every header of every message).
_TCHAR_TABLE = bytes(sorted(TCHAR))
_VALUE_TABLE = bytes(sorted(VALUE_BYTES))
_TARGET_TABLE = bytes(sorted(TARGET_BYTES))


def is_token(b: bytes) -> bool:
    if type(b) is bytes:
        return bool(b) and not b.translate(None, _TCHAR_TABLE)
    return bool(b) and all(c in TCHAR for c in b)


def is_field_value(b: bytes) -> bool:
    if type(b) is bytes:
        return not b.translate(None, _VALUE_TABLE)
    return all(c in VALUE_BYTES for c in b)


def is_target(b: bytes) -> bool:
    """Non-empty and visible ASCII only (a request-target or an authority as sent upstream)."""
    if type(b) is bytes:
        return bool(b) and not b.translate(None, _TARGET_TABLE)
    return bool(b) and all(c in TARGET_BYTES for c in b)


def _connection_tokens(headers: Headers) -> set[bytes]:
    tokens: set[bytes] = set()
    for name, value in headers:
        if len(name) == 10 and name.lower() == b"connection":  # length first: no lower() copy per field
            tokens.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return tokens


# Fields a Connection option cannot remove (RFC 9110 7.6.1: a connection option never names a field
# meant for every recipient): the codec framed the message by Content-Length and routes it by Host, so
# dropping them on a nomination would forward a message framed or routed otherwise than it was read.
# `te` goes by its own rule below.
NOT_NOMINATABLE = frozenset({b"content-length", b"host", b"te"})


def header_list_size(block: Headers) -> int:
    """RFC 9113 6.5.2 / RFC 7541 4.1: each field's name and value octets plus 32."""
    return sum(len(n) + len(v) + 32 for n, v in block)


def strip_hop_by_hop(headers: Headers) -> Headers:
    """Lowercase names; drop connection-specific fields, fields named in Connection (but for
    NOT_NOMINATABLE), and `te` unless it asks for trailers, which goes on as `te: trailers` (the
    one value HTTP/2 allows; Envoy's TE sanitizing keeps that value alone)."""
    named = _connection_tokens(headers) - NOT_NOMINATABLE
    out: Headers = []
    for name, value in headers:
        name = name.lower()
        if name in CONNECTION_SPECIFIC or name in named:
            continue
        if name == b"te":
            if not asks_for_trailers(value):
                continue
            value = b"trailers"
        out.append((name, value))
    return out


# One member of a TE list (RFC 9110 10.1.4, 5.6.1): a transfer-parameter's value may be a
# quoted-string (5.6.4), whose commas separate nothing; one left open runs to the end.
_TE_MEMBER = re.compile(rb'(?:"(?:\\[\s\S]?|[^"\\])*"?|[^",])+')


def asks_for_trailers(te: bytes) -> bool:
    """RFC 9110 10.1.4: a TE list naming `trailers` (a member with no parameters)."""
    return any(member.strip(b" \t").lower() == b"trailers" for member in _TE_MEMBER.findall(te))


def h1_request_to_h2(method: bytes, target: bytes, headers: Headers, scheme: bytes = b"http") -> Headers:
    """An HTTP/1.1 request head as an HTTP/2 header block: Host becomes :authority, names lowercase,
    hop-by-hop fields dropped."""
    authority = b""
    regular: Headers = []
    for name, value in strip_hop_by_hop(headers):
        if name == b"host":
            authority = authority or value
        else:
            regular.append((name, value))
    block: Headers = [(b":method", method), (b":scheme", scheme)]
    if authority:
        block.append((b":authority", authority))
    block.append((b":path", target))
    return block + regular


def h2_request_to_h1(block: Headers) -> tuple[bytes, bytes, Headers]:
    """An HTTP/2 request header block as (method, target, HTTP/1.1 headers with one Host first).
    Run check_h2_request_for_downgrade first: this function assumes a valid block."""
    pseudo = {name: value for name, value in block if name.startswith(b":")}
    regular = [
        (n, v) for n, v in strip_hop_by_hop([(n, v) for n, v in block if not n.startswith(b":")]) if n != b"host"
    ]
    host = pseudo.get(b":authority") or next((v for n, v in block if n == b"host"), b"")
    return pseudo.get(b":method", b""), pseudo.get(b":path", b""), [(b"host", host)] + regular


def check_h2_request_for_downgrade(block: Headers) -> str | None:
    """Why this HTTP/2 request header block must not be forwarded as HTTP/1.1, or None when it may.

    Checks the rules where HTTP/2 -> HTTP/1 translation gets smuggled: CR/LF/NUL (and other
    control bytes) in names or values, empty or non-token names, uppercase names, connection-specific
    fields, `te` other than `trailers`, malformed pseudo-headers, spaces in :method, a :path that
    is no RFC 3986 origin-form target (target_problem), an :authority that is no uri-host [":" port]
    or disagrees with Host (or several Host fields), and an unparsable content-length.
    The DATA length against content-length is checked by the codec as the body arrives.
    """
    pseudo: dict[bytes, bytes] = {}
    hosts: list[bytes] = []
    lengths: list[bytes] = []
    seen_regular = False
    for name, value in block:
        if not name:
            return "empty header name"
        if b"\r" in name or b"\n" in name or b"\0" in name or b"\r" in value or b"\n" in value or b"\0" in value:
            return f"CR, LF or NUL in header {name[:64]!r}"
        if not is_field_value(value):
            return f"control character in the value of {name[:64]!r}"
        if name.startswith(b":"):
            if seen_regular:
                return f"pseudo-header {name[:64]!r} after a regular field"
            if name not in REQUEST_PSEUDO:
                return f"unknown request pseudo-header {name[:64]!r}"
            if name in pseudo:
                return f"duplicate pseudo-header {name[:64]!r}"
            pseudo[name] = value
            continue
        seen_regular = True
        if not is_token(name):
            return f"header name {name[:64]!r} is not a token"
        if name != name.lower():
            return f"uppercase header name {name[:64]!r}"
        if name in CONNECTION_SPECIFIC:
            return f"connection-specific header {name.decode()!r}"
        if name == b"te" and value.lower() != b"trailers":
            return "te other than trailers"
        if name == b"host":
            hosts.append(value)
        elif name == b"content-length":
            lengths.append(value)
    method = pseudo.get(b":method")
    if method is None:
        return "missing :method"
    if not is_token(method):
        return "space or invalid character in :method"
    if method == b"CONNECT":
        return "CONNECT is not supported"
    if method == b"PRI":
        return PRI_IS_THE_PREFACE
    path = pseudo.get(b":path")
    if path is None or b":scheme" not in pseudo:
        return "missing :path or :scheme"
    if pseudo[b":scheme"].lower() not in SCHEMES:
        # RFC 9113 8.3.1 lets a proxy translate other schemes; this one speaks http(s) only, and an
        # HTTP/1.1 absolute-form target of another scheme is refused too (Envoy: invalid scheme).
        return "unsupported :scheme"
    if not path or not all(c in TARGET_BYTES for c in path):
        return "space or invalid character in :path"
    if not (path.startswith(b"/") or (path == b"*" and method == b"OPTIONS")):
        return "invalid :path form"
    problem = target_problem(path) if path != b"*" else None
    if problem is not None:
        return problem
    if len(hosts) > 1:
        return "several host headers"
    authority = pseudo.get(b":authority")
    if authority is not None and hosts and hosts[0] != authority:
        return ":authority and host disagree"
    host = authority if authority is not None else (hosts[0] if hosts else None)
    # RFC 9113 8.3.1: uri-host [":" port], no userinfo; the rule HTTP/1.1's Host is held to.
    if not host or host.startswith(b":") or not is_authority(host):
        return "missing or invalid :authority / host"
    if len(set(lengths)) > 1:
        return "conflicting content-length"
    if lengths and not is_content_length(lengths[0]):
        return "invalid content-length"
    return None


def trailer_problem(fields: Headers) -> str | None:
    """Why a received trailer section makes its message malformed, or None: a field name that is not
    a lowercase token (RFC 9113 8.2.1 holds trailers to the rules of headers), a pseudo-header, a
    control character in a value, or a field RFC 9110 6.5.1 keeps out of trailers."""
    for name, value in fields:
        if not is_token(name):
            return f"trailer name {name[:64]!r} is not a token"
        if name != name.lower():
            return f"uppercase trailer name {name[:64]!r}"
        if not is_field_value(value):
            return f"control character in the value of trailer {name[:64]!r}"
        if name in TRAILER_FORBIDDEN or name in CONNECTION_SPECIFIC:
            return f"{name.decode()!r} is not allowed in trailers"
    return None


def received_response_trailers(fields: Headers) -> Headers:
    """A response's trailers as the codecs deliver them: without the fields RFC 9110 6.5.1 keeps out
    of trailers and connection-specific ones, dropped where a request's would be refused. A recipient
    may discard trailers (6.5.1), and the body before them already went on to the client: Envoy
    delivers such a response (its HTTP/1 codec drops trailers by default), where refusing the
    trailers cut the whole response."""
    return [(n, v) for n, v in fields if n.lower() not in TRAILER_FORBIDDEN and n.lower() not in CONNECTION_SPECIFIC]


def sendable_trailers(fields: Headers) -> Headers:
    """Trailers to send: what RFC 9110 6.5.1 keeps out of trailers is dropped (a filter may add it)."""
    return [(n, v) for n, v in fields if n.lower() not in TRAILER_FORBIDDEN]


MAX_CONTENT_LENGTH_DIGITS = 18  # < 2**63: large enough for any body, small enough to stay an int64


def is_content_length(value: bytes) -> bool:
    """Exactly 1*DIGIT (no sign, no whitespace, no list), at most 18 digits."""
    return 0 < len(value) <= MAX_CONTENT_LENGTH_DIGITS and value.isdigit()
