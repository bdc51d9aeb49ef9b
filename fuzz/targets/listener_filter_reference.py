"""What a listener's filters should find in the first bytes of a connection, from independent
readers: the ClientHello (client_hello_reference.py, RFC 8446 / 6066 / 7301), the PROXY header
(proxy_header_reference.py, HAProxy's spec) and an HTTP/1.x request line or the HTTP/2 preface
(RFC 9112 3, RFC 9113 3.4: the grammar below). Used by the listener_filter harness and by sessions
(fuzz/tls_session.py) to judge what the proxy's filters found and the chain it picked.
"""

import re

from fuzz.targets import client_hello_reference, proxy_header_reference

_TOKEN, _VCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]", rb"[\x21-\x7e]"
REQUEST_LINE = re.compile(_TOKEN + rb"+ " + _VCHAR + rb"+ HTTP/1\.([01])\r\n")
# What can still become a request line: a prefix of one, CRLF not yet there.
PARTIAL_LINE = re.compile(
    _TOKEN
    + rb"*|"
    + _TOKEN
    + rb"+ "
    + _VCHAR
    + rb"*|"
    + _TOKEN
    + rb"+ "
    + _VCHAR
    + rb"+ (H(T(T(P(/(1(\.([01]\r?)?)?)?)?)?)?)?)?"
)
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
REMOTE, LOCAL = ("10.0.0.1", 40000), ("127.0.0.1", 10000)  # the listener_filter harness's socket addresses


def _readings(filters, data: bytes, allow_without: bool):
    """(filter, what its reference reads) for `filters` in turn over `data`, each after what the
    ones before it drained, up to the first whose reading refuses or waits; then ("rest", the bytes
    left for the chain). A PROXY header (or "malformed", "absent", "incomplete"; an absent one that
    is allowed reads as nothing), a ClientHello verdict, an HTTP/1 protocol (http_inspector reads
    nothing behind TLS)."""
    rest, tls = data, False
    for name in filters:
        if name == "proxy_protocol":
            header = proxy_header_reference.judge(rest)
            if header == "absent" and allow_without:
                continue
            yield name, header
            if not isinstance(header, proxy_header_reference.Header):
                return
            rest = rest[header.length :]
        elif name == "tls_inspector":
            hello = client_hello_reference.judge(rest)
            yield name, hello
            if hello in ("incomplete", "too_large"):
                return
            tls = isinstance(hello, client_hello_reference.Hello)
        elif name == "http_inspector" and not tls:
            protocol = _http_reference(rest)
            yield name, protocol
            if protocol == "incomplete":
                return
    yield "rest", rest


def expected(filters, data: bytes, allow_without: bool, remote=REMOTE, local=LOCAL, tlv_types=()):
    """(outcome, found, upstream bytes) from the reference readers, for a connection from `remote`
    to `local` sending `data` through `filters` (names, in order); `tlv_types` are the TLVs kept."""
    found = {"transport": "raw_buffer", "name": "", "protocols": (), "remote": remote, "local": local, "tlvs": None}
    for name, reading in _readings(filters, data, allow_without):
        if name == "rest":
            return "passed", found, reading
        if name == "proxy_protocol":
            if not isinstance(reading, proxy_header_reference.Header):
                return "closed", None, b""
            if reading.source is not None:
                found["remote"], found["local"] = reading.source, reading.destination
            kept: dict[int, bytes] = {}  # TLV type -> its first value
            for t, v in reading.tlvs:
                if t in tlv_types:
                    kept.setdefault(t, v)
            found["tlvs"] = kept or None
        elif reading == "incomplete" or reading == "too_large":
            return "closed", None, b""
        elif isinstance(reading, client_hello_reference.Hello):
            found["transport"], found["name"], found["protocols"] = "tls", reading.server_name, reading.alpn
        elif name == "http_inspector" and reading:
            found["protocols"] = (reading,)
    raise AssertionError("_readings ends with the rest")


def refused_already(filters, data: bytes, allow_without: bool) -> bool:
    """Whether the first bytes of a connection already decide that its listener filters refuse it,
    whatever follows: a PROXY header the spec calls malformed (a v1 line without its CRLF in 107
    bytes, say), or absent where one is required; a ClientHello that cannot fit its 64 KiB. A user
    relies on such a connection being closed then (Envoy's filters reject as soon as they can tell),
    not held, its bytes buffered, until more arrive or listener_filters_timeout passes. (An
    incomplete reading waits; http_inspector refuses only a request line the end of stream cut.)"""
    return any(
        reading in ("malformed", "absent", "too_large") for _, reading in _readings(filters, data, allow_without)
    )


def _http_reference(data: bytes):
    """h2c, http/1.1, http/1.0, None (not HTTP) or "incomplete", from RFC 9112 3 and RFC 9113 3.4,
    with the proxy's policy of an 8 KiB window."""
    if data.startswith(H2_PREFACE):
        return "h2c"
    if H2_PREFACE.startswith(data):
        return "incomplete"
    window = data[:8192]
    end = window.find(b"\r\n")
    if end < 0:
        return "incomplete" if len(window) < 8192 and PARTIAL_LINE.fullmatch(window) else None
    match = REQUEST_LINE.fullmatch(window[: end + 2])
    return f"http/1.{match.group(1).decode()}" if match else None
