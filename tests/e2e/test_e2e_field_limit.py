"""The header field count limit (CodecLimits.max_headers, 100: Envoy's max_headers_count) through the
running proxy (`python -m proxy`): HTTP/2 clients and HTTP/2 upstreams are held to it as HTTP/1.1
ones are (431 and 503 there). Found black-box: an HTTP/2 request with 150 fields reached the
HTTP/1.1 upstream whole, and an HTTP/2 upstream's 1500-field response reached curl."""

import shutil
import socketserver
import subprocess

import h2.config
import h2.connection
import h2.events
import pytest

from conftest import connect
from tests.e2e.stack import cluster, http_config, proxy_on, upstreams

ROUTES = ['{match: {prefix: "/h2"}, route: {cluster: h2_up}}', '{match: {prefix: "/"}, route: {cluster: h1_up}}']


class _H1(socketserver.BaseRequestHandler):
    """Keep-alive HTTP/1.1: answers each request head with 'ok' and notes it."""

    def handle(self) -> None:
        held = b""
        while True:
            while b"\r\n\r\n" not in held:
                data = self.request.recv(65536)
                if not data:
                    return
                held += data
            head, held = held.split(b"\r\n\r\n", 1)
            self.server.heads.append(head)
            self.request.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")


class _H2(socketserver.BaseRequestHandler):
    """HTTP/2: answers every request with a 200 carrying as many extra fields as its path says."""

    def handle(self) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        conn.initiate_connection()
        self.request.sendall(conn.data_to_send())
        while data := self.request.recv(65536):
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    n = int(dict(ev.headers)[b":path"].rsplit(b"/", 1)[1])
                    fields = [(b":status", b"200"), (b"content-length", b"2")] + [
                        (b"x-f%d" % i, b"v") for i in range(n)
                    ]
                    conn.send_headers(ev.stream_id, fields)
                    conn.send_data(ev.stream_id, b"ok", end_stream=True)
            self.request.sendall(conn.data_to_send())


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with upstreams(_H1, _H2) as (h1, h2_up):
        h1.heads = []
        config = http_config(
            ROUTES,
            [cluster("h1_up", h1.server_address[1]), cluster("h2_up", h2_up.server_address[1], "protocol: HTTP2")],
        )
        with proxy_on(tmp_path_factory.mktemp("field_limit"), config) as proc:
            yield proc.listener_address("http_in"), h1


def _h2_get(address, extra_fields: int) -> tuple[list, list]:
    """Stream 1 with `extra_fields` more fields, then stream 3 plain: (stream 1's events, stream 3's)."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()
    base = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"h"), (b":path", b"/")]
    conn.send_headers(1, base + [(b"x-f%d" % i, b"v") for i in range(extra_fields)], end_stream=True)
    conn.send_headers(3, base, end_stream=True)
    seen: dict = {1: [], 3: []}
    with connect(address) as s:
        s.sendall(conn.data_to_send())
        while not all(
            any(isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) for e in seen[i]) for i in seen
        ):
            data = s.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                if getattr(ev, "stream_id", None) in seen:
                    seen[ev.stream_id].append(ev)
            s.sendall(conn.data_to_send())
    return seen[1], seen[3]


def test_an_http2_request_over_the_field_limit_resets_its_stream_alone(stack):
    address, h1 = stack
    before = len(h1.heads)
    first, second = _h2_get(address, 150)
    assert [type(e) for e in first] == [h2.events.StreamReset], first
    assert any(isinstance(e, h2.events.ResponseReceived) and dict(e.headers)[b":status"] == b"200" for e in second)
    assert len(h1.heads) == before + 1  # only stream 3 went upstream (150 fields did, before)


def test_an_http2_request_at_the_field_limit_goes_upstream(stack):
    address, h1 = stack
    first, _ = _h2_get(address, 100)
    assert any(isinstance(e, h2.events.ResponseReceived) for e in first)
    assert h1.heads[-2].count(b"\r\nx-f") == 100 or h1.heads[-1].count(b"\r\nx-f") == 100


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
@pytest.mark.parametrize(("fields", "status"), [(90, b"200"), (150, b"503"), (1500, b"503")])
def test_an_http2_upstream_response_over_the_field_limit_is_a_503(stack, fields, status):
    address, _ = stack
    done = subprocess.run(
        ["curl", "-s", "-i", "--max-time", "10", f"http://{address[0]}:{address[1]}/h2/{fields}"],
        capture_output=True,
        timeout=20,
    )
    assert done.stdout.split(b"\r\n", 1)[0] == b"HTTP/1.1 " + status + (
        b" OK" if status == b"200" else b" Service Unavailable"
    )
