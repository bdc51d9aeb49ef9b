"""An HTTP/2 upstream peer that the fuzzer's raw bytes desynchronised (tainted) records no response:
the proxy cannot read its later frames as one, so a local reply with the same status is not its."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from tests.fuzz.peers.test_peers import H1_POST, H2_POST, UP_H2_OK, built, exchange_script, plant_on_response

# fuzz (session 120 s on a clean clone, examples/upstream_http2.yaml): raw HTTP/1.1 bytes on the HTTP/2
# upstream connection, the proxy's 503 'upstream reset' to the client, then the peer's own 503 frames.
UP_H2_503 = A("upstream_http", value=1, payload=b"o\x00\x02k")
RAW_THEN_FRAMES = [
    A("connect"),
    A("send", payload=b"GET / HTTP/1.1\r\nHost: a\r\nX-Fuzz-Id: 0-1\r\n\r\n"),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=b"HTTP/1.1 200 X\r\nContent-Length: 2\r\n\r\nok"),
    A("read"),
    UP_H2_503,
    A("read"),
]


def test_frames_after_raw_bytes_are_not_a_response_the_client_got():
    s = Session(built("HTTP2")).run(RAW_THEN_FRAMES)
    [ex] = s.peers.exchanges
    assert ex.response.status == 503 and bytes(ex.response.body) == b"upstream reset\n"
    assert [up.response for up in ex.upstreams] == [None]


def test_planted_response_field_injected_from_an_h2_upstream_is_still_caught(monkeypatch):
    Session(built("HTTP2")).run(exchange_script(H1_POST, UP_H2_OK))
    plant_on_response(monkeypatch, headers=lambda fields: fields + [(b"x-injected", b"1")])
    with pytest.raises(InvariantViolation, match="peer_response_headers_changed"):
        Session(built("HTTP2")).run(exchange_script(H1_POST, UP_H2_OK))


# fuzz (session fork run on a clean clone, examples/upstream_http2.yaml; the seed
# corpus/session/regress-h2-upstream-raw-bytes-before-the-proxys-goaway): raw 'HTTP/1.1 200 X' bytes
# on the HTTP/2 upstream connection, which the proxy reads as a frame of 4740180 bytes and answers with
# GOAWAY(FRAME_SIZE_ERROR). The upstream peer looked at that answer before it noted its own raw bytes
# (taint), and judged the GOAWAY unearned: it now notes what it sent first.
def test_planted_frame_size_error_for_a_clean_upstream_is_still_unearned(monkeypatch):
    from proxy.http import h2 as h2codec

    original = h2codec.H2ClientCodec.receive_data
    goaway = (8).to_bytes(3, "big") + bytes([0x7, 0]) + bytes(4) + (1).to_bytes(4, "big") + (0x6).to_bytes(4, "big")

    def planted(self, data):  # the defect: the upstream's first frames are answered with GOAWAY(FRAME_SIZE_ERROR)
        if data:
            self._extra += goaway
        return original(self, data)

    Session(built("HTTP2")).run(exchange_script(H1_POST, UP_H2_OK))
    monkeypatch.setattr(h2codec.H2ClientCodec, "receive_data", planted)
    with pytest.raises(InvariantViolation, match="h2_wire_unearned_frame_size_error"):
        Session(built("HTTP2")).run(exchange_script(H1_POST, UP_H2_OK))


def test_frames_after_the_upstream_reset_its_connection_are_not_a_response():
    """Found by a session fork run (peer_response_headers_changed, examples/upstream_http2.yaml): the
    upstream reset its connection, the proxy answered the client 503 'upstream reset', and the peer's
    later 503 frames, which the closed socket dropped, were recorded as the response it sent."""
    s = Session(built("HTTP2")).run(
        [
            A("connect"),
            A("send", payload=b"GET / HTTP/1.1\r\nHost: a\r\nX-Fuzz-Id: 0-1\r\n\r\n"),
            A("upstream_connect"),
            A("upstream_read"),
            A("upstream_reset"),
            UP_H2_503,
            A("read"),
        ]
    )
    [ex] = s.peers.exchanges
    assert ex.response.status == 503 and bytes(ex.response.body) == b"upstream reset\n"
    assert [up.response for up in ex.upstreams] == [None]


def test_a_zero_window_peer_skips_a_stream_h2_has_forgotten():
    """Found by fuzz run session -seed=1001 (KeyError in H2Peer._open_windows, examples/upstream_http2.yaml
    with a zero INITIAL_WINDOW_SIZE upstream; seed corpus/session/regress-h2-zero-window-stream-forgotten):
    a stream that closed, and that h2 pruned, before the peer opened its window."""
    from fuzz.peers.record import Message

    s = Session(built("HTTP2")).run([A("upstream_settings", value=0x04)] + exchange_script(H1_POST, UP_H2_OK))
    server = s.peers.servers[0]
    assert server.zero_window and 3 not in server.conn.streams
    server.streams[3] = Message()  # read by the peer, already forgotten by h2
    server._open_windows()
    assert 3 in server._windowed


def test_data_a_tainted_http2_client_makes_is_not_recorded_as_sent():
    """Found by fuzz run session 120 s (peer_forwarded_body_changed, examples/tls.yaml; seed
    corpus/session/regress-h2-client-data-after-raw-bytes): the client declared content-length: 0,
    wrote raw HTTP/1.1 bytes (the proxy ended the connection), then its template made a DATA frame
    'tail' that the proxy never read as one; the record counted it as request body. The planted
    truncated body behind a clean HTTP/2 client is still caught (test_peers.py)."""
    s = Session(built("HTTP2")).run(exchange_script(H2_POST, UP_H2_OK))
    client = s.peers.clients[0]
    [ex] = s.peers.exchanges
    body = bytes(ex.request.body)
    client.tainted = True
    client.sent_data(1, b"tail", False)
    assert bytes(ex.request.body) == body


# fuzz (session from an empty corpus, 14 s on a clean clone of c22f56b; regression seed
# corpus/session/regress-silent-h2-upstream-answer-never-sent): a black-holed HTTP/2 upstream
# (upstream_connect_silent) "answered" 503 frames its socket never carried, the upstream reset, and the
# proxy's own 503 'upstream reset' was judged as that answer with its fields changed.
SILENT_THEN_RESET = [
    A("connect"),
    A("send", payload=b"GET / HTTP/1.1\r\nHost: a\r\nX-Fuzz-Id: 0-1\r\n\r\n"),
    A("upstream_connect_silent"),
    A("upstream_read"),
    UP_H2_503,
    A("upstream_reset"),
    A("read"),
]


def test_frames_a_black_holed_upstream_never_sent_are_not_a_response():
    s = Session(built("HTTP2")).run(SILENT_THEN_RESET)
    [ex] = s.peers.exchanges
    assert ex.response.status == 503 and bytes(ex.response.body) == b"upstream reset\n"
    assert [up.response for up in ex.upstreams] == [None]
