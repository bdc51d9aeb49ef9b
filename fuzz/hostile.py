"""Shapes real hostile clients send, for the payload templates (fuzz/payloads.py): targets with a
fragment, a backslash, invalid percent-encoding, dot segments or encoded slashes, absolute-form with
userinfo, authorities with "/" or "@", field names with "_" beside framing fields, and HTTP/2
trailers with forbidden or invalid names. One seed byte picks a shape; 0 and most other values pick
none, so most requests stay plain (the shape byte of the seeds written before is 0).
"""

# Request targets: (kind, value) where kind "path" replaces the path, "absolute" prefixes it with
# an absolute-form scheme and authority (the host is put in at {host}).
TARGETS = (
    (b"path", b"/admin#frag"),
    (b"path", b"/a\\b"),
    (b"path", b"/%zz"),
    (b"path", b"/a/../admin"),
    (b"path", b"/a%2Fb"),
    # Empty segments before a dot segment: the order of normalising and merging decides what it names.
    (b"path", b"//double//../slash"),
    (b"path", b"/%61dmin"),
    (b"path", b"/%"),
    (b"absolute", b"http://{host}"),
    (b"absolute", b"http://user@{host}"),
    (b"absolute", b"http://{host}#x"),
)
AUTHORITIES = (b"h/evil", b"u@evil", b"evil:80x", b"[::1]:8080", b"[::1", b"a b")
FIELDS = (
    (b"Transfer_Encoding", b"chunked"),
    (b"X_Forwarded_For", b"1.2.3.4"),
    (b"Content_Length", b"5"),
    (b"X-Space-End", b"v "),
    (b"Upper-Case", b"V"),
)
TRAILERS = (
    [(b"content-length", b"50")],
    [(b"host", b"evil")],
    [(b"grpc-stasi/", b"0")],
    [(b"transfer-encoding", b"chunked")],
    [(b":path", b"/x")],
    [(b"x-trailer", b"1")],
    [(b"authorization", b"Basic eDp5")],
    [(b"te", b"trailers")],
)
N_SHAPES = len(TARGETS) + len(AUTHORITIES) + len(FIELDS)
# Shapes added later, numbered after the HTTP/2 trailer shapes so the selectors of committed seeds
# keep their meaning: an authority with a port and no host (RFC 9110 4.2.1: invalid), a scheme
# the proxy does not serve (HTTP/1.1: an absolute-form target of it; HTTP/2: its :scheme), and a
# query holding a URL with "//" and a dot segment (an OAuth redirect_uri, a login's next=): the path
# options rewrite the path only, the query goes upstream as sent (RFC 3986 3.4).
# Then a path traversal spelled with percent-encoded dots (`%2e%2E` is `..`, RFC 3986 2.3 and 6.2.2.2:
# the encoded-dot bypasses of path normalisers, CVE-2021-41773 and kin) and a 6 KiB query (tracking and
# SSO redirects carry such URLs) that alone outgrows a small max_request_headers_kb.
LATE = (
    ("authority", b":80"),
    ("scheme", b"ftp"),
    ("query", b"next=https://example.com//a/../b"),
    ("target", (b"path", b"/static/%2e%2E/admin")),
    ("query", b"sso=" + b"A" * 6144),
    # A trailer field with "_" (request trailers: a chunked upload's, an HTTP/2 stream's): the
    # connection manager's headers_with_underscores_action covers trailers as it covers headers, or the
    # field a CGI backend reads as X-Forwarded-User travels in the trailer section instead.
    ("trailer", (b"x_forwarded_user", b"admin")),
)
LATE_FIRST = N_SHAPES + len(TRAILERS) + 1


def shape(selector: int):
    """(what, value) for a selector byte: ("target", (kind, value)), ("authority", value),
    ("field", (name, value)), ("scheme", value), ("query", value), ("trailer", (name, value)), or None
    for a plain request."""
    if 0 <= selector - LATE_FIRST < len(LATE):
        return LATE[selector - LATE_FIRST]
    i = selector - 1
    if not 0 <= i < N_SHAPES:
        return None
    if i < len(TARGETS):
        return "target", TARGETS[i]
    i -= len(TARGETS)
    if i < len(AUTHORITIES):
        return "authority", AUTHORITIES[i]
    return "field", FIELDS[i - len(AUTHORITIES)]


def apply(selector: int, path: bytes, host: bytes, fields: list) -> tuple[bytes, bytes, list]:
    """(target, authority, fields) of a request after the shape `selector` picks."""
    picked = shape(selector)
    if picked is None:
        return path, host, fields
    what, value = picked
    if what == "target":
        kind, text = value
        if kind == b"path":
            return text, host, fields
        return text.replace(b"{host}", host or b"x") + (path if path.startswith(b"/") else b"/"), host, fields
    if what == "authority":
        return path, value, fields
    if what == "trailer":
        return path, host, fields  # the request template puts it in its trailer section (trailer_field)
    if what == "scheme":
        return value + b"://" + (host or b"x") + (path if path.startswith(b"/") else b"/"), host, fields
    if what == "query":
        base = path if path.startswith(b"/") else b"/"
        return base + (b"&" if b"?" in base else b"?") + value, host, fields
    return path, host, fields + [value]


def trailers(selector: int) -> list | None:
    """HTTP/2 request trailers for a selector byte (None for most values)."""
    i = selector - 1
    return TRAILERS[i] if 0 <= i < len(TRAILERS) else None


def trailer_field(selector: int) -> tuple | None:
    """A request trailer field (name, value) for a selector byte (None: none of its own)."""
    picked = shape(selector)
    return picked[1] if picked is not None and picked[0] == "trailer" else None


def scheme(selector: int) -> bytes | None:
    """An HTTP/2 request's :scheme for a selector byte (None: http)."""
    picked = shape(selector)
    return picked[1] if picked is not None and picked[0] == "scheme" else None
