"""Envoy's inbound PRIORITY and WINDOW_UPDATE limits on the HTTP/2 codecs (Envoy 1.11.1, CVE-2019-9513):
max_inbound_priority_frames_per_stream (100) x (1 + streams opened) PRIORITY frames and
5 + 2 x (streams opened + max_inbound_window_update_frames_per_data_frame_sent (10) x DATA frames
sent) WINDOW_UPDATE frames over a connection's life; one more ends it with
GOAWAY(ENHANCE_YOUR_CALM). Live, 100,000 of either cost the proxy about half a second of CPU and
the connection went on (tests/e2e/catalog.py h2_priority_flood, h2_window_update_flood)."""

import h2.config
import h2.connection
import h2.events
from hyperframe.frame import PriorityFrame, WindowUpdateFrame

from proxy.http.codec import ProtocolViolation, RequestHeaders
from proxy.http.h2 import ENHANCE_YOUR_CALM, H2ClientCodec, H2ServerCodec

REQ = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"example.com"), (b":path", b"/")]


def _client():
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()
    return conn


def _server_with_client():
    server, client = H2ServerCodec(), _client()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    return server, client


def _priority(n: int, first_stream: int = 101) -> bytes:
    return b"".join(PriorityFrame(first_stream + 2 * i, depends_on=0, stream_weight=15).serialize() for i in range(n))


def _calm(events) -> bool:
    return any(isinstance(e, ProtocolViolation) and e.error_code == ENHANCE_YOUR_CALM for e in events)


def test_priority_frames_beyond_100_per_stream_opened_end_the_connection():
    server, _ = _server_with_client()
    assert not _calm(server.receive_data(_priority(100)))
    assert _calm(server.receive_data(_priority(1, 301)))
    assert server.stats["h2_inbound_priority_frames_flood"] == 1 and server.wants_close


def test_each_response_sent_allows_100_more_priority_frames():
    server, client = _server_with_client()
    client.send_headers(1, REQ, end_stream=True)
    [req] = server.receive_data(client.data_to_send())
    assert isinstance(req, RequestHeaders)
    server.send_headers(1, 200, [], end_stream=True)  # a stream opened: 200 in all now
    assert not _calm(server.receive_data(_priority(200)))
    assert _calm(server.receive_data(_priority(1, 901)))


def test_window_updates_with_no_data_sent_are_a_flood_after_five():
    server, _ = _server_with_client()
    one = WindowUpdateFrame(0, window_increment=1).serialize()
    assert not _calm(server.receive_data(one * 5))
    assert _calm(server.receive_data(one))
    assert server.stats["h2_inbound_window_update_frames_flood"] == 1


def test_a_client_acknowledging_every_data_frame_twice_is_no_flood():
    """A real client credits each DATA frame on its stream and its connection: 2 per frame, well
    within 10 per frame."""
    server, client = _server_with_client()
    client.send_headers(1, REQ, end_stream=True)
    server.receive_data(client.data_to_send())
    server.send_headers(1, 200, [])
    body = b"x" * 16384
    for _ in range(200):  # 3.2 MB through a 64 KiB window: the client's credit keeps it moving
        server.send_data(1, body)
        events = client.receive_data(server.data_to_send())
        for ev in events:
            if isinstance(ev, h2.events.DataReceived):
                client.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        assert not _calm(server.receive_data(client.data_to_send()))
    assert "h2_inbound_window_update_frames_flood" not in server.stats


def test_the_upstream_side_counts_the_requests_it_sent():
    """An HTTP/2 upstream flooding the proxy's client codec is held to the same limits."""
    codec = H2ClientCodec()
    upstream = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    upstream.initiate_connection()
    upstream.receive_data(codec.data_to_send())
    codec.receive_data(upstream.data_to_send())
    codec.send_request_headers(b"GET", b"/", b"example.com", [], end_stream=True)  # one stream: 200 allowed
    assert not _calm(codec.receive_data(_priority(200, 2)))
    assert _calm(codec.receive_data(_priority(1, 402)))
