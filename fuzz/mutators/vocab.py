"""HTTP vocabulary the HTTP/1.1 and HTTP/2 mutators draw from: tokens real peers send and the
variants parsers are known to disagree on (RFC 9110/9112/9113 grammar edges, the request-smuggling
shapes of the research literature). Data only; no shape here is cut to one planted bug."""

METHODS = (
    b"GET",
    b"HEAD",
    b"POST",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"TRACE",
    b"CONNECT",
    b"PATCH",
    b"PURGE",
    b"get",
    b"G\x00T",
    b"GET/",
    b"",
)
TARGETS = (
    b"/",
    b"/a/b?c=d",
    b"*",
    b"http://a.example/x",
    b"https://a.example:443/",
    b"a.example:443",
    b"/%41%20",
    b"/a b",
    b"//x",
    b"/?q=%00",
    b"",
    b"/#frag",
    b"/\x7f",
    b"/../etc",
    b"http://u@a.example/",
    b"/" + b"a" * 200,
    # Appended: what path normalisers and path options get
    # wrong in the wild. A traversal spelled with percent-encoded dots (CVE-2021-41773 and kin), empty
    # segments in the path and a URL with "//" and a dot segment in the query (an OAuth redirect_uri,
    # a login's next=: path options act on the path only), and a tracking or SSO query of a few KiB,
    # alone larger than a small header-size limit.
    b"/static/%2e%2E/admin",
    b"//a//b?next=https://a.example//c/../d",
    b"/search?sso=" + b"A" * 3000,
    # A slash and a backslash percent-encoded inside a segment, upper case as URI producers write
    # them (RFC 3986 2.1): what escaped-slash handling must see (CVE-2021-29492's path bypass).
    b"/admin%2Fusers%5Cx",
)
VERSIONS = (
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/2.0",
    b"HTTP/0.9",
    b"HTTP/1.2",
    b"http/1.1",
    b"HTTP/11",
    b"HTTP/1.01",
    b"HTTP/ 1.1",
    b"",
)
STATUSES = (
    b"200",
    b"100",
    b"101",
    b"103",
    b"204",
    b"206",
    b"304",
    b"400",
    b"404",
    b"500",
    b"999",
    b"000",
    b"2000",
    b"20x",
    b"",
)
REASONS = (b"OK", b"", b"Not Found", b"x\x00y", b"a\tb", b"Continue")

# Values worth trying per field name (lowercase); GENERIC_VALUES for any field.
FIELD_VALUES = {
    b"host": (
        b"a.example",
        b"a.example:8080",
        b"[::1]:443",
        b"127.0.0.1",
        b"",
        b"a/b",
        b"x@y",
        b"a b",
        b"a.example:",
        b":80",
        b"a.example:99999",
        b"a,b",
        b"A.EXAMPLE",
        b"a..b",
        b"a%20b",
        b"[::1",
        b"a?b",
        b"a#b",
        b"a\\b",
    ),
    b"content-length": (
        b"0",
        b"1",
        b"4",
        b"5",
        b"10",
        b"100",
        b"+4",
        b"-1",
        b"0x4",
        b"04",
        b"4, 4",
        b"4,5",
        b" 4",
        b"4 ",
        b"",
        b"99999999999999999999",
        b"1_0",
        b"4\x00",
    ),
    b"transfer-encoding": (
        b"chunked",
        b"Chunked",
        b"gzip, chunked",
        b"chunked, gzip",
        b"identity",
        b"xchunked",
        b"chunked;q=1",
        b" chunked",
        b"chunked, chunked",
        b"",
        b"chunked\x0b",
        b"gzip",
    ),
    b"connection": (
        b"close",
        b"keep-alive",
        b"upgrade",
        b"close, te",
        b"x-custom",
        b"Upgrade, HTTP2-Settings",
        b"content-length",
        b"host",
    ),
    b"expect": (b"100-continue", b"100-Continue", b"200-ok"),
    b"te": (b"trailers", b"gzip", b"trailers, deflate", b""),
    b"upgrade": (b"h2c", b"websocket", b"HTTP/2.0"),
    b"content-type": (b"text/plain", b"application/json", b"multipart/form-data; boundary=x"),
    b"cookie": (b"a=1; b=2", b"a=1", b""),
    b"x-forwarded-for": (b"1.2.3.4", b"1.2.3.4, 5.6.7.8", b"unknown"),
    b"keep-alive": (b"timeout=5", b"max=1"),
    b"proxy-connection": (b"keep-alive", b"close"),
    b"via": (b"1.1 x",),
    b"user-agent": (b"curl/8.5.0",),
    b"x-custom": (b"value",),
    b"trailer": (b"x-trailer", b"content-length"),
}
GENERIC_VALUES = (
    b"",
    b" ",
    b"\t",
    b"a\x00b",
    b"\x80\xff",
    b"a\rb",
    b"a\nb",
    b"a\r\nX-Injected: 1",
    b"a" * 300,
    b'"quoted"',
    b"a, b",
    b"0",
    b"-1",
)
FIELD_NAMES = tuple(FIELD_VALUES) + (
    b"X-Custom",
    b"Bad Name",
    b"x:y",
    b"",
    b"x\x00",
    b"\xff",
    b"authorization",
    b"set-cookie",
    b"http2-settings",
    b":path",
    # Appended: a name with an underscore, which CGI and WSGI read as the hyphenated one (nginx drops
    # it, Envoy's edge default refuses the request: headers_with_underscores_action).
    b"X_Forwarded_For",
)
# Fields a trailer section must not carry (RFC 9110 6.5.1), and harmless ones.
TRAILER_NAMES = (b"x-trailer", b"content-length", b"transfer-encoding", b"host", b"trailer", b"connection")

# Chunk extensions (RFC 9112 7.1.1) and malformed ones.
CHUNK_EXTENSIONS = (b";a=b", b";a", b';a="q"', b" ;a=b", b"; a=b", b";a=b;c=d", b";=", b";a=\x01", b";", b';a="')
# Line endings a message may use, strict or not.
EOLS = (b"\r\n", b"\n", b"\r", b"\r\r\n", b"", b"\n\r")
# Whitespace around the colon and the value of a field line.
OWS = (b"", b" ", b"  ", b"\t", b" \t")

# HTTP/2 (RFC 9113): setting identifiers with boundary values, error codes, frame flags.
SETTINGS_IDS = (1, 2, 3, 4, 5, 6, 8, 9, 0, 7, 0xFF, 0xFFFF)
SETTINGS_VALUES = (0, 1, 2, 100, 4096, 16383, 16384, 16385, 65535, 65536, 2**24 - 1, 2**24, 2**31 - 1, 2**31, 2**32 - 1)
WINDOW_INCREMENTS = (0, 1, 2, 1000, 65535, 65536, 2**30, 2**31 - 1, 2**31, 2**32 - 1)
ERROR_CODES = (0, 1, 2, 3, 7, 8, 11, 13, 0xFF, 2**32 - 1)
H2_PSEUDO = (b":method", b":path", b":scheme", b":authority", b":status", b":protocol", b":x")
SCHEMES = (b"http", b"https", b"", b"ftp")
