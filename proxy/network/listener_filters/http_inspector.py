"""http_inspector: does a plaintext connection speak HTTP, and which version?

  h2c        the connection starts with the HTTP/2 prior-knowledge preface (RFC 9113 3.4)
  http/1.1,  the first line is an HTTP/1.x request line (RFC 9112 3): method (a token), one SP,
  http/1.0   a request-target of visible ASCII, one SP, HTTP/1.1 or HTTP/1.0, CRLF
  not HTTP   anything else, or no CRLF within the first 8 KiB: nothing is set

What it finds becomes the connection's application_protocols, for chain matching. Connections
tls_inspector already found to be TLS are skipped (their ALPN says it). Nothing is consumed.
Stats `listener.<name>.http_inspector.`: http10_found, http11_found, http2_found, http_not_found.
"""

from ..filter import CONTINUE, STOP_ITERATION
from ..listener_filter import ListenerFilter, register_listener_filter

MAX_INSPECT = 8 * 1024
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_TCHAR = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VCHAR = bytes(range(0x21, 0x7F))
_VERSIONS = {b"HTTP/1.1": "http/1.1", b"HTTP/1.0": "http/1.0"}

NEED_MORE, NOT_HTTP = "need_more", "not_http"


def _line_so_far_ok(line: bytes) -> bool:
    """Can `line` (no CRLF yet) still begin a valid request line? (Re-read on every read while
    the line grows, so the class checks run in C: translate() deletes the allowed bytes.)"""
    method, sp, rest = line.partition(b" ")
    if method.translate(None, _TCHAR) or (sp and not method):
        return False
    if not sp:
        return True
    target, sp, version = rest.partition(b" ")
    if target.translate(None, _VCHAR) or (sp and not target):
        return False
    if not sp:
        return True
    if version.endswith(b"\r"):  # the line ends here: the version before it must be whole
        return version[:-1] in _VERSIONS
    return any(v.startswith(version) for v in _VERSIONS)


def inspect(data: bytes):
    """NEED_MORE, NOT_HTTP, or "h2c" / "http/1.1" / "http/1.0", from the first bytes of a
    connection. The same answer for every longer input once it is not NEED_MORE."""
    if data.startswith(H2_PREFACE):
        return "h2c"
    if H2_PREFACE.startswith(data):
        return NEED_MORE
    data = data[:MAX_INSPECT]
    end = data.find(b"\r\n")
    if end < 0:
        if not _line_so_far_ok(data) or len(data) >= MAX_INSPECT:
            return NOT_HTTP
        return NEED_MORE
    parts = data[:end].split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1] or not _line_so_far_ok(data[:end]):
        return NOT_HTTP
    return _VERSIONS.get(parts[2], NOT_HTTP)


class HttpInspector(ListenerFilter):
    max_read_bytes = MAX_INSPECT

    def on_accept(self, cb):
        self.cb = cb
        if cb.connection.transport_protocol not in ("", "raw_buffer"):
            return CONTINUE
        return STOP_ITERATION

    def on_data(self, data: bytes):
        found = inspect(data)
        if found is NEED_MORE:
            return STOP_ITERATION
        if found is NOT_HTTP:
            self.cb.inc("http_inspector.http_not_found")
            return CONTINUE
        stat = {"h2c": "http2_found", "http/1.1": "http11_found", "http/1.0": "http10_found"}[found]
        self.cb.inc("http_inspector." + stat)
        self.cb.connection.application_protocols = (found,)
        return CONTINUE


@register_listener_filter("http_inspector")
def http_inspector_factory(msg, build):
    return lambda ctx: HttpInspector()
