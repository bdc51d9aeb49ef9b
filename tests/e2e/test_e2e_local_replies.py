"""The proxy's own answers (direct responses, upstream connect errors) as real clients read them
through the running proxy (`python -m proxy`): raw HTTP/1.1 sockets and httpx over HTTP/2."""

import httpx
import pytest

from conftest import LOOPBACK, connect, free_port, recv_all
from tests.e2e.stack import cluster, http_config, proxy_on

ROUTES = [
    '{match: {path: "/direct"}, direct_response: {status: 200, body: "direct body"}}',
    '{match: {prefix: "/"}, route: {cluster: nowhere}}',
]


@pytest.fixture(scope="module")
def address(tmp_path_factory):
    config = http_config(ROUTES, [cluster("nowhere", free_port())])  # nothing listens there: connect refused, 503
    with proxy_on(tmp_path_factory.mktemp("local_replies"), config) as proc:
        yield proc.listener_address("http_in")


def _h1_head(address, method: bytes, path: bytes) -> tuple[bytes, bytes]:
    with connect(address) as s:
        s.sendall(b"%s %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" % (method, path))
        head, _, body = recv_all(s).partition(b"\r\n\r\n")
    return head.replace(b"connection: close\r\n", b"").replace(b"\r\nconnection: close", b""), body


@pytest.mark.parametrize("path", [b"/direct", b"/refused"])
def test_a_head_gets_the_head_a_get_gets_over_http1(address, path):
    """RFC 9110 9.3.2 and 8.6: the proxy answered HEAD with "content-length: 0" (and no content-type)
    where the GET got 11 bytes of text/plain: a wrong length, which RFC 9110 8.6 forbids."""
    get_head, get_body = _h1_head(address, b"GET", path)
    head_head, head_body = _h1_head(address, b"HEAD", path)
    assert get_body and head_body == b""
    assert head_head == get_head and b"content-length: %d" % len(get_body) in head_head


@pytest.mark.parametrize("path", ["/direct", "/refused"])
def test_a_head_gets_the_head_a_get_gets_over_http2(address, path):
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        url = f"http://{LOOPBACK}:{address[1]}{path}"
        got, head = client.get(url), client.head(url)
    assert head.content == b"" and got.content
    assert head.status_code == got.status_code and dict(head.headers) == dict(got.headers)
    assert head.headers["content-length"] == str(len(got.content))
