"""The :scheme an HTTP/2 upstream gets through the running proxy (`python -m proxy`): the client's
(RFC 9113 8.3.1: the scheme of the target URI), as Envoy forwards it: an HTTP/2 client's :scheme, and
for HTTP/1.1 https over TLS (RFC 9112 3.3), http in clear text. Found live: every request reached
the upstream as http, so an application building its absolute URLs or redirects from :scheme sent
its TLS clients to http://."""

import json
import socket
import socketserver
import ssl
import threading

import h2.config
import h2.connection
import h2.events
import pytest

from conftest import LOOPBACK, connect, recv_all
from fuzz.test_pki import ensure
from tests.e2e.test_e2e_resources import _h2_client, _h2_until, _Upstream


class _EchoScheme(socketserver.BaseRequestHandler):
    """HTTP/2: answers every request with the :scheme it got as the body."""

    def handle(self) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        conn.initiate_connection()
        self.request.sendall(conn.data_to_send())
        while data := self.request.recv(65536):
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    scheme = dict(ev.headers)[b":scheme"]
                    conn.send_headers(ev.stream_id, [(b":status", b"200"), (b"content-length", b"%d" % len(scheme))])
                    conn.send_data(ev.stream_id, scheme, end_stream=True)
            self.request.sendall(conn.data_to_send())


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from conftest import ProxyProcess

    pki = ensure()
    upstream = _Upstream((LOOPBACK, 0), _EchoScheme)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    route = {"match": {"prefix": "/"}, "route": {"cluster": "h2_up"}}
    hcm = {
        "codec": "AUTO",
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [route]}]},
    }
    cert = {
        "certificate_chain": {"filename": str(pki / "server.pem")},
        "private_key": {"filename": str(pki / "server.key")},
    }
    tls = {"common_tls_context": {"tls_certificates": [cert], "alpn_protocols": ["http/1.1"]}}
    config = {
        "listeners": [
            {
                "name": "http_in",
                "address": {"host": LOOPBACK, "port": 0},
                "filter_chains": [{"filters": [{"http_connection_manager": hcm}]}],
            },
            {
                "name": "https_in",
                "address": {"host": LOOPBACK, "port": 0},
                "filter_chains": [{"tls_context": tls, "filters": [{"http_connection_manager": hcm}]}],
            },
        ],
        "clusters": [
            {
                "name": "h2_up",
                "protocol": "HTTP2",
                "endpoints": [{"host": LOOPBACK, "port": upstream.server_address[1]}],
            }
        ],
    }
    path = tmp_path_factory.mktemp("scheme") / "proxy.json"
    path.write_text(json.dumps(config))
    proc = ProxyProcess(path)
    try:
        proc.wait_ready()
        yield proc.listener_address("http_in"), proc.listener_address("https_in")
    finally:
        proc.kill()
        upstream.shutdown()
        upstream.server_close()


def _h2_get(address, scheme: bytes) -> bytes:
    client = _h2_client()
    client.send_headers(
        1, [(b":method", b"GET"), (b":scheme", scheme), (b":authority", b"x"), (b":path", b"/")], end_stream=True
    )
    with connect(address) as s:
        s.sendall(client.data_to_send())
        events = _h2_until(s, client, lambda evs: any(isinstance(e, h2.events.StreamEnded) for e in evs))
    return b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))


@pytest.mark.parametrize("scheme", [b"http", b"https"])
def test_an_http2_clients_scheme_reaches_the_upstream(stack, scheme):
    assert _h2_get(stack[0], scheme) == scheme


def test_an_http1_request_in_clear_text_goes_up_as_http(stack):
    with connect(stack[0]) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert recv_all(s).endswith(b"\r\n\r\nhttp")


def test_an_http1_request_over_tls_goes_up_as_https(stack):
    context = ssl.create_default_context(cafile=str(ensure() / "ca.pem"))
    context.check_hostname = False
    with socket.create_connection(stack[1], timeout=10) as raw, context.wrap_socket(raw) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = b""
        while data := s.recv(65536):
            got += data
    assert got.startswith(b"HTTP/1.1 200") and got.endswith(b"\r\n\r\nhttps"), got
