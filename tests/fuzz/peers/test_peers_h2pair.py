"""The independent HTTP/2 wire monitor in the h2_codec harness (fuzz/targets/h2pair.py): both codecs'
frames against the SETTINGS the other side advertised; clean exchanges pass, planted bugs fail."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import h2pair
from proxy.http._h2_state import Send
from proxy.http.codec import CodecLimits
from proxy.http.h2 import H2ClientCodec, H2ServerCodec, _H2Codec
from tests.fuzz.peers.test_peers import plant_on_proxy_h2 as plant, subclass_instance


def upload(pair, body: bytes, streams: int = 1, response: bytes = b""):
    """The client POSTs `body` on `streams` streams, the server answers each with `response`."""
    c, s = pair.client, pair.server
    sids = []
    for _ in range(streams):
        if not c.codec.can_send_request():
            pair.settle()
        head = (b"POST", b"/up", b"a.example", b"http", [])
        sid = pair.command(c, "send_request_headers", *head[:3], head[4], scheme=head[3])
        c.sent[sid] = h2pair.Sent(head=head)
        pair.command(c, "send_data", sid, body, end_stream=True)
        c.sent[sid].body += body
        c.sent[sid].ended = True
        sids.append(sid)
        pair.settle()
        if response and s.got.get(sid) and s.got[sid].ended:
            pair.command(s, "send_headers", sid, 200, [])
            s.sent[sid] = h2pair.Sent(head=(200, []))
            pair.command(s, "send_data", sid, response, end_stream=True)
            s.sent[sid].body += response
            s.sent[sid].ended = True
            pair.settle()
    return sids


def small_server(pair, **limits):
    """The pair's server codec made anew with small limits, before anything was delivered."""
    pair.server = h2pair.Side("server", H2ServerCodec(CodecLimits(**limits)))
    pair.server.collect()
    return pair


def test_large_exchanges_under_small_limits_pass_the_monitor():
    pair = small_server(h2pair.Pair(), h2_max_concurrent_streams=1, h2_max_frame_size=16_385)
    sids = upload(pair, b"u" * 100_000, streams=3, response=b"d" * 70_000)
    assert all(pair.client.got[sid].ended for sid in sids)
    assert pair.monitors["client"].settings[0x3] == 1  # the server's MAX_CONCURRENT_STREAMS took effect


def test_planted_codec_ignoring_the_peers_initial_window_is_caught(monkeypatch):
    plant(
        monkeypatch,
        H2ClientCodec,
        lambda conn: subclass_instance(conn.remote_settings, initial_window_size=property(lambda self: 1 << 20)),
    )
    monkeypatch.setattr(_H2Codec, "_flush_stream", _flush_ignoring_h2_windows)
    with pytest.raises(InvariantViolation, match="h2_wire_window_exceeded"):
        upload(h2pair.Pair(), b"u" * 100_000)


def _flush_ignoring_h2_windows(self, stream_id):
    """The planted codec: sends its whole body in max-size frames, as if every window were open."""
    st = self._streams.get(stream_id)
    if st is None or st.send not in (Send.OPEN, Send.ENDING):
        return
    data = b"".join(st.out)
    st.out.clear()
    st.out_bytes = 0
    size = 16_384
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        last = i + size >= len(data) and st.send is Send.ENDING
        self._conn._data_to_send += (
            len(piece).to_bytes(3, "big") + bytes([0, 1 if last else 0]) + stream_id.to_bytes(4, "big") + piece
        )
    if st.send is Send.ENDING:
        st.send = Send.CLOSED


def test_planted_codec_ignoring_the_peers_max_frame_size_is_caught(monkeypatch):
    pair = h2pair.Pair()
    upload(pair, b"u" * 40_000)  # the client codec cuts its body into 16 KiB frames
    plant(
        monkeypatch,
        H2ClientCodec,
        lambda conn: subclass_instance(
            conn, max_outbound_frame_size=property(lambda self: 32_768, lambda self, value: None)
        ),
    )
    with pytest.raises(InvariantViolation, match="h2_wire_frame_too_large"):
        upload(h2pair.Pair(), b"u" * 40_000)


def test_planted_client_opening_more_streams_than_the_server_allows_is_caught(monkeypatch):
    monkeypatch.setattr(H2ClientCodec, "can_send_request", lambda self: True)
    plant(
        monkeypatch, H2ClientCodec, lambda conn: subclass_instance(conn, open_outbound_streams=property(lambda self: 0))
    )
    pair = small_server(h2pair.Pair(), h2_max_concurrent_streams=1)
    pair.settle()  # SETTINGS delivered and acknowledged both ways
    c = pair.client
    with pytest.raises(InvariantViolation, match="h2_wire_streams_exceeded"):
        for _ in range(2):
            sid = pair.command(c, "send_request_headers", b"GET", b"/", b"a.example", [], end_stream=False)
            c.sent[sid] = h2pair.Sent(head=(b"GET", b"/", b"a.example", b"http", []))
        pair.settle()
