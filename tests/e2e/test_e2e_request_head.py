"""A request head that arrives slowly, through the running proxy (`python -m proxy`, raw sockets on
127.0.0.1). Envoy's HTTP/1 codec makes the stream at the request's first byte, so a head still
arriving is a request in flight: the connection's idle_timeout does not cut it, and the stream idle
timeout bounds it. The proxy made the stream only once the head was whole: a slow head was cut by
idle_timeout_ms, and with idle_timeout_ms 0 (the default) a head that never ended held its
connection with no timer at all (slowloris)."""

import threading
import time

import pytest

from conftest import LOOPBACK, connect, recv_all
from tests.e2e.stack import web_config
from tests.e2e.test_e2e_resources import _Handler, _stats, _Upstream


@pytest.fixture
def start(proxy_process, tmp_path):
    server = _Upstream((LOOPBACK, 0), _Handler)
    server.big_started = threading.Semaphore(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def start(hcm: str):
        path = tmp_path / "proxy.yaml"
        path.write_text(web_config(server.server_address[1], hcm=hcm))
        proc = proxy_process(path)
        proc.wait_ready()
        return proc

    yield start
    server.shutdown()
    server.server_close()


def test_a_head_sent_slower_than_the_idle_timeout_is_answered(start):
    """idle_timeout_ms 200: the head comes in four pieces 300 ms apart (the stream idle timeout, 5 min,
    is what bounds it). Before, the idle timer closed the connection after the first piece."""
    proxy = start("idle_timeout_ms: 200")
    head = b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with connect(proxy.listener_address("http_in")) as s:
        for i in range(0, len(head), 13):
            if i:
                time.sleep(0.3)
            s.sendall(head[i : i + 13])
        answer = recv_all(s)
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\nok"), answer
    assert not _stats(proxy).get("http.downstream_cx_idle_timeout")


def test_a_head_that_never_ends_gets_408_at_the_stream_idle_timeout(start):
    """No idle_timeout_ms (the default); stream_idle_timeout_ms 300. Before, the connection stayed
    open with its half head for good (recv_all ran into the socket's 10 s timeout)."""
    proxy = start("stream_idle_timeout_ms: 300")
    with connect(proxy.listener_address("http_in")) as s:
        s.sendall(b"GET /never HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        answer = recv_all(s)
    assert answer == b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n", answer
    stats = _stats(proxy)
    assert (stats.get("http.downstream_rq_idle_timeout"), stats.get("http.downstream_rq_408")) == (1, 1)
    assert not stats.get("http.downstream_cx_active")


def test_empty_lines_before_a_request_are_not_a_request(start):
    """RFC 9112 2.2: CRLFs before a request line are ignored, so they do not start a request: the
    connection idle timeout (200 ms) still closes a connection that sent only them, without a 408."""
    proxy = start("idle_timeout_ms: 200, stream_idle_timeout_ms: 60000")
    with connect(proxy.listener_address("http_in")) as s:
        s.sendall(b"\r\n\r\n")
        assert recv_all(s) == b""
    assert _stats(proxy).get("http.downstream_cx_idle_timeout") == 1


def test_an_http2_request_expecting_100_continue_gets_it_before_its_body(start):
    """RFC 9110 10.1.1 over HTTP/2: the HTTP/1.1 codec marked Expect: 100-continue for the connection
    manager, which answers it (as Envoy does whatever the protocol); the HTTP/2 codec did not, so a
    client waiting for the 100 before its body got nothing (curl --http2-prior-knowledge stalled 1 s,
    its expect timeout, on every upload; here the socket's 10 s timeout ran out)."""
    import h2.config
    import h2.connection
    import h2.events

    proxy = start("")
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    client.initiate_connection()
    head = [(b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/up")]
    client.send_headers(1, head + [(b"expect", b"100-continue"), (b"content-length", b"5")])
    seen: list = []
    with connect(proxy.listener_address("http_in")) as s:
        s.sendall(client.data_to_send())
        while not any(isinstance(e, h2.events.StreamEnded) for e in seen):
            data = s.recv(65536)
            assert data, seen
            for event in client.receive_data(data):
                seen.append(event)
                if isinstance(event, h2.events.InformationalResponseReceived):
                    client.send_data(1, b"hello", end_stream=True)
            s.sendall(client.data_to_send())
    [interim] = [e for e in seen if isinstance(e, h2.events.InformationalResponseReceived)]
    [final] = [e for e in seen if isinstance(e, h2.events.ResponseReceived)]
    assert dict(interim.headers)[b":status"] == b"100" and dict(final.headers)[b":status"] == b"200"


def test_an_http2_header_block_left_open_ends_at_the_stream_idle_timeout(start):
    """HEADERS without END_HEADERS, and no CONTINUATION: Envoy (nghttp2) has the stream from that frame,
    so its stream idle timeout bounds it. Before, with no idle_timeout_ms, nothing did: the connection
    stayed open for good (recv_all ran into the socket's 10 s timeout)."""
    import struct

    import hpack

    proxy = start("stream_idle_timeout_ms: 300")
    block = hpack.Encoder().encode(
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/")]
    )
    headers = struct.pack(">I", len(block))[1:] + b"\x01\x01" + struct.pack(">I", 1) + block  # END_STREAM only
    with connect(proxy.listener_address("http_in")) as s:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + headers)
        answer = recv_all(s)
    assert b"header block not completed in time" in answer  # the GOAWAY's debug data, then the close
    stats = _stats(proxy)
    assert (stats.get("http.h2_header_block_timeout"), stats.get("http.downstream_rq_idle_timeout")) == (1, 1)
