"""What a forwarded HTTP message may contain, written from the RFCs (not from proxy/http/headers.py:
an oracle that reuses the code under test judges nothing). Each function returns None when the
value conforms, else a short reason.
"""

import re

# The trailer list lives with the strict reader, which notes what the judge here finds forwarded.
from ..targets.reference import FORBIDDEN_IN_TRAILERS as FORBIDDEN_IN_TRAILERS
from ..targets.reference import is_ip_literal

# RFC 3986 2.1, 2.2, 2.3: pct-encoded, sub-delims, unreserved.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
# RFC 3986 3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@".
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
# RFC 9112 3.2.1 origin-form = absolute-path [ "?" query ]; RFC 9110 4.1 absolute-path = 1*( "/" segment );
# RFC 3986 3.4 query = *( pchar / "/" / "?" ). No "#": a fragment is never sent (RFC 9112 3.2, RFC 9110 7.1).
# The query is held to visible ASCII but "#" (docs/semantics.md: the proxy lets browsers' unencoded
# [ ] { } | ^ ` " and stray "%" through there, as WHATWG URL does); the path to RFC 3986.
ORIGIN_FORM = re.compile(rf"(?:/{_PCHAR}*)+(?:\?[\x21-\x22\x24-\x7e]*)?\Z".encode())
# RFC 3986 3.2.2 reg-name = *( unreserved / pct-encoded / sub-delims ); 3.2.3 port = *DIGIT.
_REG_NAME = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*\Z".encode())
_PORT = re.compile(rb"[0-9]*\Z")
# RFC 9110 5.6.2 token = 1*tchar.
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# RFC 9110 5.5 field-value = *field-content; field-content = field-vchar [ 1*( SP / HTAB / field-vchar )
# field-vchar ]; field-vchar = VCHAR / obs-text. No CR, LF or NUL, no leading or trailing whitespace.
_FIELD_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff](?:[\x20\x09\x21-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?\Z")


def origin_form(target: bytes) -> str | None:
    """A target a proxy sends an origin server (RFC 9112 3.2.1: origin-form, except asterisk-form for
    OPTIONS and authority-form for CONNECT, which the callers allow)."""
    if b"#" in target:
        return "has a fragment (RFC 9112 3.2: no fragment in a request target)"
    if ORIGIN_FORM.match(target) is None:
        path = target.split(b"?", 1)[0]
        bad = next(
            (
                chr(c)
                for c in path
                if chr(c) not in "%/:@" + _SUB_DELIMS and not chr(c).isalnum() and chr(c) not in "-._~"
            ),
            None,
        )
        if bad is not None:
            return f"character {bad!r} is not allowed in a path (RFC 3986 3.3)"
        if re.search(rb"%(?![0-9A-Fa-f]{2})", path):
            return "invalid percent-encoding (RFC 3986 2.1)"
        return 'not origin-form (RFC 9112 3.2.1: absolute-path [ "?" query ])'
    return None


def authority(value: bytes) -> str | None:
    """host [ ":" port ] of an http(s) URI (RFC 3986 3.2; RFC 9110 4.2.1: no userinfo)."""
    if b"@" in value:
        return "has userinfo (RFC 9110 4.2.4: a sender must not generate userinfo)"
    host, port = value, b""
    if value.startswith(b"["):
        end = value.find(b"]")
        if end < 0:
            return "unclosed IP-literal (RFC 3986 3.2.2)"
        literal, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(b":"):
            return "bytes after an IP-literal (RFC 3986 3.2.2)"
        port = rest[1:]
        if not is_ip_literal(literal):
            return "invalid IP-literal (RFC 3986 3.2.2)"
    else:
        if b":" in value:
            host, port = value.rsplit(b":", 1)
        if _REG_NAME.match(host) is None:
            return "host is not a reg-name or IPv4 address (RFC 3986 3.2.2)"
        if not host and b":" in value:
            return "a port with an empty host (RFC 9110 4.2.1: a recipient must reject such an http URI)"
    if _PORT.match(port) is None:
        return "port is not digits (RFC 3986 3.2.3)"
    return None


def field_name(name: bytes) -> str | None:
    """RFC 9110 5.1: field-name = token."""
    return None if TOKEN.match(name) else "field name is not a token (RFC 9110 5.1)"


def field_value(value: bytes) -> str | None:
    """RFC 9110 5.5."""
    if _FIELD_VALUE.match(value) is None:
        if re.search(rb"[\r\n\x00]", value):
            return "CR, LF or NUL in a field value (RFC 9110 5.5)"
        return "field value with a control character or surrounding whitespace (RFC 9110 5.5)"
    return None


def request_target(method: bytes, target: bytes) -> str | None:
    """The forms a proxy may forward to an origin (RFC 9112 3.2.3, 3.2.4 for the two exceptions)."""
    if method == b"OPTIONS" and target == b"*":
        return None
    if method == b"CONNECT":
        return authority(target)
    return origin_form(target)
