"""A response the proxy sent whole, then closed the connection after (the client asked with
`connection: close`, or spoke HTTP/1.0 and the body has no length, so only the close ends it): the
access log record names no failure. Envoy ends the stream as it finishes encoding the response,
before the connection closes, so %RESPONSE_FLAGS% is "-"; ours ended the HTTP/1.0 one with the
close, as a reset flagged DC ("downstream connection termination"), as if the client had gone away
mid-stream. Found by the network_filter fuzzer (model_access_log_flags)."""

import socketserver

import h11
import pytest

from conftest import connect, recv_all
from tests.e2e.stack import access_log_records, logged_config, proxy_on, read_request_head, upstreams


class _Answers(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        if not read_request_head(self.request):
            return
        # No length: the body ends where the connection does (RFC 9112 6.3, item 8), so the proxy
        # ends its response to an HTTP/1.0 client with a close too.
        self.request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nconnection: close\r\n\r\nbusy")


def _status_and_body(got: bytes) -> tuple:
    """The one response in `got`, read by h11 up to the close that may be what ends its body."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("host", "h")]))
    client.send(h11.EndOfMessage())
    client.receive_data(got)
    client.receive_data(b"")
    status, body = None, b""
    while (event := client.next_event()) not in (h11.NEED_DATA, h11.PAUSED) and type(event) is not h11.ConnectionClosed:
        if type(event) is h11.Response:
            status = event.status_code
        elif type(event) is h11.Data:
            body += event.data
    return status, body


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: h\r\n\r\n",
    ],
    ids=["connection-close", "http-1.0"],
)
def test_a_response_sent_whole_before_the_proxy_closes_flags_no_failure(tmp_path, request_bytes):
    log = tmp_path / "access.log"
    with upstreams(_Answers) as (up,):
        config = logged_config(up.server_address[1], log)
        with proxy_on(tmp_path, config) as proc, connect(proc.listener_address("http_in")) as s:
            s.sendall(request_bytes)
            got = recv_all(s)
            (record,) = [r["attributes"] for r in access_log_records(log, 1)]
    assert _status_and_body(got) == (503, b"busy")
    assert (record["http.response.status_code"], record["proxy.response_flags"]) == (503, "-")
    assert record["proxy.stream.end"] == "response"
