"""A request line no head can mend, through the running proxy (`python -m proxy`, raw sockets on
127.0.0.1): answered 400 and closed as soon as its first bad byte arrives, as Envoy's incremental
parser does. The proxy judged the line only once the whole head was in, so a TLS ClientHello sent
to a clear-text HTTP port (or a PROXY header where no filter takes it, or any binary bytes) held the
connection, with no answer, until the stream idle timeout (5 minutes by default).

The same on an HTTP/2-only listener: first bytes that cannot begin the client preface (RFC 9113
3.4) end the connection at once, as nghttp2 (Envoy's codec) refuses the first wrong byte. The proxy
judged the preface only once its 24 bytes were in, so a shorter HTTP/1.x request got no answer and
held its connection for good (no idle timeout by default)."""

import pytest

from conftest import connect, recv_all
from tests.e2e.test_e2e_request_head import start  # noqa: F401 (the fixture)
from tests.e2e.test_e2e_resources import _start, _stats

CLIENT_HELLO_START = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32)


@pytest.mark.parametrize(
    "first_bytes",
    [CLIENT_HELLO_START, b"PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n", b"GET /a b HTTP/1.1\r\n"],
    ids=["tls-client-hello", "proxy-header", "space-in-target"],
)
def test_a_request_line_no_head_can_mend_is_answered_at_once(start, first_bytes):  # noqa: F811
    proxy = start("")
    with connect(proxy.listener_address("http_in")) as s:
        s.sendall(first_bytes)  # and nothing more: the head never ends
        answer = recv_all(s)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer


H2_ONLY = """
listeners:
  - name: http_in
    address: {host: 127.0.0.1, port: 0}
    filter_chains:
      - filters:
          - http_connection_manager:
              codec: HTTP2
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                      - match: {prefix: "/"}
                        direct_response: {status: 200, body: "ok"}
admin: {address: {host: 127.0.0.1, port: 0}}
"""


@pytest.mark.parametrize(
    "first_bytes",
    [b"GET / HTTP/1.0\r\n\r\n", CLIENT_HELLO_START[:5], b"PRI * HTTP/1.1\r\n"],
    ids=["http10-request", "tls-record-header", "preface-wrong-version"],
)
def test_bytes_that_cannot_begin_the_http2_preface_end_the_connection_at_once(proxy_process, tmp_path, first_bytes):
    proxy, address = _start(proxy_process, tmp_path, H2_ONLY)
    with connect(address, timeout=5) as s:
        s.sendall(first_bytes)  # fewer than the preface's 24 bytes, and nothing more
        answer = recv_all(s)  # before: the socket's timeout, the connection still open
    assert answer.startswith(b"\x00\x00") and answer[3] == 0x4, answer  # our SETTINGS, then the close
    stats = _stats(proxy)
    assert (stats.get("http.h2_protocol_error"), stats.get("http.downstream_cx_protocol_error")) == (1, 1)
