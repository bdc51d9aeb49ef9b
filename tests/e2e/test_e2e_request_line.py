"""A request line no head can mend, through the running proxy (`python -m proxy`, raw sockets on
127.0.0.1): answered 400 and closed as soon as its first bad byte arrives, as Envoy's incremental
parser does. The proxy judged the line only once the whole head was in, so a TLS ClientHello sent
to a clear-text HTTP port (or a PROXY header where no filter takes it, or any binary bytes) held the
connection, with no answer, until the stream idle timeout (5 minutes by default)."""

import pytest

from conftest import connect, recv_all
from tests.e2e.test_e2e_request_head import start  # noqa: F401 (the fixture)

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
