"""A stream the proxy resets after the response began is not logged as the client's doing.

When an upstream closes mid-body, or the route timeout fires once the head went out, the proxy can
only cut the response: HTTP/2 resets the stream, HTTP/1.1 closes the connection. Envoy's record
flags the cause alone (UC, UT: %RESPONSE_FLAGS%); DC ("downstream connection termination") says
the client went away. Live (BLACKBOX 12-04g): the HTTP/1.1 records read "UC,DC" and "UT,DC",
because the close of the proxy's own reset came back as a connection event that took the client
for gone; the HTTP/2 records read "UC" and "UT"."""

import socketserver
import time

import h2.config
import h2.connection
import h2.events
import pytest

from conftest import connect, recv_all
from tests.e2e.stack import access_log_records, logged_config, proxy_on, read_request_head, upstreams

_HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n"


class _ClosesMidBody(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        if read_request_head(self.request):
            self.request.sendall(_HEAD + b"x" * 1000)
            time.sleep(0.2)  # the head and the first bytes reach the client before the close


class _StallsMidBody(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        if read_request_head(self.request):
            self.request.sendall(_HEAD + b"x" * 1000)
            time.sleep(3)  # past the route timeout: the proxy gives up on the rest


def _over_http1(address) -> None:
    with connect(address) as s:
        s.sendall(b"GET /cut HTTP/1.1\r\nhost: h\r\n\r\n")
        recv_all(s)  # up to the proxy's close


def _over_http2(address) -> None:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    client.send_headers(1, [(":method", "GET"), (":path", "/cut"), (":scheme", "http"), (":authority", "h")], True)
    with connect(address) as s:
        s.sendall(client.data_to_send())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # until the proxy's RST_STREAM
            data = s.recv(65536)
            if not data or any(isinstance(e, h2.events.StreamReset) for e in client.receive_data(data)):
                break
            s.sendall(client.data_to_send())


@pytest.mark.parametrize("send", [_over_http1, _over_http2], ids=["http1", "http2"])
@pytest.mark.parametrize(
    ("handler", "flag"), [(_ClosesMidBody, "UC"), (_StallsMidBody, "UT")], ids=["upstream-close", "route-timeout"]
)
def test_a_response_the_proxy_cuts_short_flags_its_cause_not_the_client(tmp_path, send, handler, flag):
    log = tmp_path / "access.log"
    with upstreams(handler) as (up,):
        with proxy_on(tmp_path, logged_config(up.server_address[1], log, route="timeout_ms: 1000")) as proc:
            send(proc.listener_address("http_in"))
            (record,) = [r["attributes"] for r in access_log_records(log, 1)]
    assert (record["http.response.status_code"], record["proxy.stream.end"]) == (200, "reset")
    assert record["proxy.response_flags"] == flag
