"""HTTP/2 server codec against a real peer (h2's own client connection) and raw frames (hyperframe):
flow-control backpressure, downgrade rules, and each flood defence with its counter and GOAWAY."""

import h2.config
import h2.connection
import h2.events
from hyperframe.frame import ContinuationFrame, DataFrame, Frame, HeadersFrame, PingFrame, SettingsFrame

from proxy.http.codec import CodecLimits, Data, ProtocolViolation, RequestHeaders, StreamReset, Trailers
from proxy.http.h2 import ENHANCE_YOUR_CALM, PROTOCOL_ERROR, H2ServerCodec

REQ = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"example.com"), (b":path", b"/")]


def peer(validate=True):
    """A real h2 client; with validate=False it sends whatever headers we give it."""
    config = h2.config.H2Configuration(
        client_side=True, header_encoding=None, validate_outbound_headers=validate, normalize_outbound_headers=validate
    )
    conn = h2.connection.H2Connection(config)
    conn.initiate_connection()
    return conn


def exchange(server, client):
    """Client bytes to the server, server bytes back; returns (server events, client events)."""
    server_events = server.receive_data(client.data_to_send())
    client_events = client.receive_data(server.data_to_send())
    return server_events, client_events


def goaway_code(client_events):
    [term] = [e for e in client_events if isinstance(e, h2.events.ConnectionTerminated)]
    return int(term.error_code)


def test_request_and_response_with_a_real_client():
    s, c = H2ServerCodec(), peer()
    c.send_headers(1, REQ + [(b"user-agent", b"t")], end_stream=True)
    [req], _ = exchange(s, c)
    assert req == RequestHeaders(
        1, b"GET", b"/", b"example.com", b"http", [(b"user-agent", b"t")], True, http_version=b"2"
    )
    s.send_headers(1, 200, [(b"Content-Type", b"text/plain"), (b"Connection", b"keep-alive")])
    s.send_data(1, b"hello", end_stream=True)
    got = c.receive_data(s.data_to_send())
    [resp] = [e for e in got if isinstance(e, h2.events.ResponseReceived)]
    assert resp.headers == [(b":status", b"200"), (b"content-type", b"text/plain")]
    assert b"".join(e.data for e in got if isinstance(e, h2.events.DataReceived)) == b"hello"
    assert any(isinstance(e, h2.events.StreamEnded) for e in got)


def test_window_is_not_reopened_until_the_owner_consumes():
    s, c = H2ServerCodec(), peer()
    c.send_headers(1, REQ[:0] + [(b":method", b"POST")] + REQ[1:])
    for i in range(0, 65535, 16384):
        c.send_data(1, b"x" * min(16384, 65535 - i))
    events, _ = exchange(s, c)
    assert sum(len(e.data) for e in events if isinstance(e, Data)) == 65535
    assert c.local_flow_control_window(1) == 0
    assert s.data_to_send() == b""  # nothing to give back yet: no WINDOW_UPDATE
    s.consume(1, 40000)
    c.receive_data(s.data_to_send())
    assert c.local_flow_control_window(1) == 40000 and c.outbound_flow_control_window == 40000


def test_a_configured_window_is_the_whole_of_what_one_stream_may_send():
    """SETTINGS_INITIAL_WINDOW_SIZE sizes stream windows only: the connection window also has to be
    opened, or every stream stays at 64 KiB in flight whatever http2_protocol_options says."""
    window = 1 << 20
    s, c = H2ServerCodec(CodecLimits(h2_initial_window_size=window)), peer()
    exchange(s, c)
    c.send_headers(1, [(b":method", b"POST")] + REQ[1:])
    assert c.local_flow_control_window(1) == window  # 65535 before: the connection window held it
    for _ in range(window // 16384):
        c.send_data(1, b"x" * 16384)
    events, _ = exchange(s, c)
    assert sum(len(e.data) for e in events if isinstance(e, Data)) == window
    s.consume(1, window)
    exchange(s, c)
    assert c.local_flow_control_window(1) == window  # consumed: the stream and the connection reopen


def test_outbound_data_waits_for_the_peers_window():
    s, c = H2ServerCodec(), peer()
    c.send_headers(1, REQ, end_stream=True)
    exchange(s, c)
    s.send_headers(1, 200, [])
    s.send_data(1, b"y" * 70000, end_stream=True)
    assert s.buffered_outbound(1) == 70000 - 65535
    got = c.receive_data(s.data_to_send())
    received = sum(len(e.data) for e in got if isinstance(e, h2.events.DataReceived))
    assert received == 65535
    c.acknowledge_received_data(received, 1)
    _, got = exchange(s, c)
    assert sum(len(e.data) for e in got if isinstance(e, h2.events.DataReceived)) == 70000 - 65535
    assert any(isinstance(e, h2.events.StreamEnded) for e in got)


def test_padding_is_acknowledged_on_receipt_not_held_against_the_peer():
    s, c = H2ServerCodec(), peer()
    c.send_headers(1, [(b":method", b"POST")] + REQ[1:])
    for _ in range(200):
        c.send_data(1, b"a", pad_length=255)  # 257 flow-controlled bytes, 1 of them data
    events, _ = exchange(s, c)
    assert b"".join(e.data for e in events if isinstance(e, Data)) == b"a" * 200
    # Nothing consumed, yet padding was handed back (h2 batches WINDOW_UPDATEs, so not every byte yet).
    assert c.outbound_flow_control_window > 65535 - 257 * 200 + 30000


def test_downgrade_violation_resets_only_that_stream():
    s, c = H2ServerCodec(), peer(validate=False)
    c.send_headers(
        1, [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/a b")], end_stream=True
    )
    c.send_headers(3, REQ, end_stream=True)
    events, got = exchange(s, c)
    assert events[0] == ProtocolViolation("space or invalid character in :path", error_code=PROTOCOL_ERROR, stream_id=1)
    assert isinstance(events[1], RequestHeaders) and events[1].stream_id == 3
    [reset] = [e for e in got if isinstance(e, h2.events.StreamReset)]
    assert reset.stream_id == 1 and reset.error_code == PROTOCOL_ERROR
    assert s.stats["h2_rejected_request"] == 1 and not s.wants_close


def test_downgrade_rules_each_reset_the_stream():
    cases = [
        [(b":method", b"GE T")] + REQ[1:],
        REQ + [(b"x(a)", b"1")],
        REQ + [(b"x-a", b"a\x01b")],
    ]
    for block in cases:
        s, c = H2ServerCodec(), peer(validate=False)
        c.send_headers(1, block, end_stream=True)
        events, _ = exchange(s, c)
        assert [type(e) for e in events] == [ProtocolViolation], block
        assert events[0].stream_id == 1 and events[0].code == "h2_protocol_error"


def test_what_h2_rejects_itself_is_a_connection_error():
    for block in (
        REQ + [(b"transfer-encoding", b"chunked")],
        REQ + [(b"host", b"other.com")],
        REQ + [(b"x-a", b"a\r\nb")],
        REQ + [(b"te", b"gzip")],
    ):
        s, c = H2ServerCodec(), peer(validate=False)
        c.send_headers(1, block, end_stream=True)
        events, got = exchange(s, c)
        assert [type(e) for e in events] == [ProtocolViolation] and events[0].stream_id is None, block
        assert events[0].code == "h2_protocol_error"
        assert goaway_code(got) == PROTOCOL_ERROR
        assert s.wants_close


def test_data_longer_than_content_length_is_refused():
    s, c = H2ServerCodec(), peer(validate=False)
    c.send_headers(1, [(b":method", b"POST")] + REQ[1:] + [(b"content-length", b"3")])
    c.send_data(1, b"abcd", end_stream=True)
    events, got = exchange(s, c)
    assert isinstance(events[-1], ProtocolViolation) and events[-1].code == "h2_protocol_error"
    assert not any(isinstance(e, Data) for e in events)
    assert goaway_code(got) == PROTOCOL_ERROR


def test_data_shorter_than_content_length_is_refused_at_end_of_stream():
    s, c = H2ServerCodec(), peer(validate=False)
    c.send_headers(1, [(b":method", b"POST")] + REQ[1:] + [(b"content-length", b"5")])
    c.send_data(1, b"abc", end_stream=True)
    events, got = exchange(s, c)
    assert isinstance(events[-1], ProtocolViolation)
    assert not any(isinstance(e, Data) and e.end_stream for e in events)


def test_data_shorter_than_content_length_then_trailers_is_refused():
    """CI (http_translate, h2 -> h1): content-length 100, a 10-byte body, then trailers ending the
    stream. h2 compares the length only when DATA ends the stream, so the request went on promising
    90 more bytes; it is malformed (RFC 9113 8.1.1): RST_STREAM(PROTOCOL_ERROR), no trailers."""
    s, c = H2ServerCodec(), peer(validate=False)
    c.send_headers(1, [(b":method", b"POST")] + REQ[1:] + [(b"content-length", b"100"), (b"te", b"trailers")])
    c.send_data(1, b"\x00\x00\x00\x00\x05hello")
    c.send_headers(1, [(b"grpc-status", b"0")], end_stream=True)
    events, got = exchange(s, c)
    assert isinstance(events[-1], ProtocolViolation) and events[-1].stream_id == 1
    assert events[-1].code == "h2_protocol_error"
    assert not any(isinstance(e, Trailers) for e in events)
    [reset] = [e for e in got if isinstance(e, h2.events.StreamReset)]
    assert reset.error_code == PROTOCOL_ERROR


def test_a_body_as_long_as_content_length_then_trailers_is_accepted():
    s, c = H2ServerCodec(), peer(validate=False)
    c.send_headers(1, [(b":method", b"POST")] + REQ[1:] + [(b"content-length", b"5"), (b"te", b"trailers")])
    c.send_data(1, b"hello")
    c.send_headers(1, [(b"grpc-status", b"0")], end_stream=True)
    events, _ = exchange(s, c)
    assert [type(e) for e in events] == [RequestHeaders, Data, Trailers]


def test_rapid_reset_triggers_goaway_enhance_your_calm():
    limits = CodecLimits(h2_rapid_reset_window=20, h2_rapid_reset_max=5)
    s, c = H2ServerCodec(limits), peer()
    sid = 1
    events = []
    for _ in range(6):
        c.send_headers(sid, REQ, end_stream=True)
        c.reset_stream(sid)
        sid += 2
    events = s.receive_data(c.data_to_send())
    assert sum(isinstance(e, StreamReset) for e in events) == 6
    assert events[-1] == ProtocolViolation(
        "more than 5 of the last 20 streams reset before their response", error_code=ENHANCE_YOUR_CALM
    )
    assert s.stats["h2_rapid_reset"] == 1
    assert goaway_code(c.receive_data(s.data_to_send())) == ENHANCE_YOUR_CALM


def test_resets_after_complete_responses_are_not_rapid_resets():
    limits = CodecLimits(h2_rapid_reset_window=20, h2_rapid_reset_max=2)
    s, c = H2ServerCodec(limits), peer()
    for sid in (1, 3, 5, 7):
        c.send_headers(sid, REQ, end_stream=True)
        exchange(s, c)
        s.send_headers(sid, 204, [], end_stream=True)
        c.receive_data(s.data_to_send())
    assert "h2_rapid_reset" not in s.stats and not s.wants_close


def test_rejected_and_refused_requests_count_as_early_resets():
    """Every malformed or refused request costs an RST_STREAM: a peer that sends little else is
    stopped like a rapid reset (issue 13 defect 8: 10,000 rejected requests were all answered)."""
    limits = CodecLimits(h2_rapid_reset_window=20, h2_rapid_reset_max=5, h2_max_concurrent_streams=1)
    s, c = H2ServerCodec(limits), peer(validate=False)
    for sid in (1, 3, 5):
        c.send_headers(sid, REQ[:3] + [(b":path", b"/x"), (b"content-length", b"5")], end_stream=True)
    c.send_headers(7, REQ)  # open: the next ones are refused while it lasts
    for sid in (9, 11, 13):
        c.send_headers(sid, REQ, end_stream=True)
    events = s.receive_data(c.data_to_send())
    assert [(type(e).__name__, e.stream_id) for e in events] == [
        ("ProtocolViolation", 1),
        ("ProtocolViolation", 3),
        ("ProtocolViolation", 5),
        ("RequestHeaders", 7),
        ("ProtocolViolation", None),
    ]
    assert events[-1].error_code == ENHANCE_YOUR_CALM
    assert s.stats == {"h2_too_many_streams": 3, "h2_rejected_request": 3, "h2_rapid_reset": 1}


def _raw_client_start():
    c = peer()
    return c.data_to_send()  # preface + SETTINGS


def test_continuation_flood_is_stopped_before_h2_buffers_it():
    s = H2ServerCodec(CodecLimits(h2_max_continuation_frames=4))
    wire = _raw_client_start() + HeadersFrame(1, data=b"\x82", flags=["END_STREAM"]).serialize()
    for _ in range(10):
        wire += ContinuationFrame(1, data=b"\x84").serialize()
    events = s.receive_data(wire)
    assert events == [ProtocolViolation("more than 4 CONTINUATION frames", error_code=ENHANCE_YOUR_CALM)]
    assert s.stats["h2_continuation_flood"] == 1
    assert goaway_code(peer().receive_data(s.data_to_send())) == ENHANCE_YOUR_CALM


def test_header_block_too_large_before_end_headers():
    s = H2ServerCodec(CodecLimits(max_header_bytes=1000, h2_max_continuation_frames=100))
    wire = _raw_client_start() + HeadersFrame(1, data=b"\x82" * 600).serialize()
    wire += ContinuationFrame(1, data=b"\x84" * 600).serialize()
    [err] = s.receive_data(wire)
    assert err.error_code == ENHANCE_YOUR_CALM and s.stats["h2_continuation_flood"] == 1


def test_hpack_bomb():
    s, c = H2ServerCodec(CodecLimits(max_header_bytes=4096)), peer()
    c.send_headers(1, REQ + [(b"x-bomb", b"a" * 1000)] * 20, end_stream=True)
    wire = c.data_to_send()
    assert len(wire) < 4096  # small on the wire, 20 KB decoded
    [err] = s.receive_data(wire)
    assert err.error_code == ENHANCE_YOUR_CALM and err.stream_id is None
    assert s.stats["h2_hpack_bomb"] == 1
    assert goaway_code(c.receive_data(s.data_to_send())) == ENHANCE_YOUR_CALM


def test_ping_flood():
    s = H2ServerCodec(CodecLimits(h2_max_pending_control_acks=10))
    wire = _raw_client_start() + b"".join(PingFrame(0, opaque_data=b"12345678").serialize() for _ in range(11))
    assert s.receive_data(wire)[-1].error_code == ENHANCE_YOUR_CALM
    assert s.stats["h2_ping_flood"] == 1


def test_pings_drained_between_reads_are_fine():
    s = H2ServerCodec(CodecLimits(h2_max_pending_control_acks=10))
    s.receive_data(_raw_client_start())
    for _ in range(30):
        assert s.receive_data(PingFrame(0, opaque_data=b"12345678").serialize()) == []
        assert s.data_to_send()  # the ACK
    assert not s.wants_close


def test_settings_flood():
    s = H2ServerCodec(CodecLimits(h2_max_pending_control_acks=10))
    wire = _raw_client_start() + b"".join(SettingsFrame(0, settings={0x4: 1000}).serialize() for _ in range(10))
    assert s.receive_data(wire)[-1].error_code == ENHANCE_YOUR_CALM
    assert s.stats["h2_settings_flood"] == 1


def test_a_stream_over_the_concurrency_limit_is_refused_alone():
    s, c = H2ServerCodec(CodecLimits(h2_max_concurrent_streams=2)), peer()
    for sid in (1, 3, 5):  # sent before the client saw our SETTINGS (RFC 9113 5.1.2 allows it)
        c.send_headers(sid, REQ)
    events, got = exchange(s, c)
    assert [(type(e).__name__, e.stream_id) for e in events] == [("RequestHeaders", 1), ("RequestHeaders", 3)]
    [reset] = [e for e in got if isinstance(e, h2.events.StreamReset)]
    assert (reset.stream_id, int(reset.error_code)) == (5, 7)  # REFUSED_STREAM
    assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in got)
    assert s.stats["h2_too_many_streams"] == 1 and not s.wants_close
    s.send_headers(1, 200, [], end_stream=True)  # the healthy streams go on; a freed slot takes a new one
    c.end_stream(1)
    events, got = exchange(s, c)
    assert [(type(e).__name__, e.stream_id) for e in events] == [("Data", 1)]
    assert any(isinstance(e, h2.events.ResponseReceived) and e.stream_id == 1 for e in got)
    c.send_headers(7, REQ, end_stream=True)
    events, _ = exchange(s, c)
    assert [(type(e).__name__, e.stream_id) for e in events] == [("RequestHeaders", 7)]


def test_frame_larger_than_max_frame_size():
    s = H2ServerCodec()
    wire = _raw_client_start() + HeadersFrame(1, data=b"\x82" * 20000, flags=["END_HEADERS"]).serialize()
    [err] = s.receive_data(wire)
    assert err.stream_id is None and s.wants_close


def test_graceful_goaway_lets_streams_in_flight_finish_and_refuses_new_ones():
    s, c = H2ServerCodec(), peer()
    c.send_headers(1, REQ, end_stream=True)
    exchange(s, c)
    s.goaway()
    assert frames(s.data_to_send()) == [("GoAwayFrame", 0)]
    c.send_headers(3, REQ, end_stream=True)  # crossed the GOAWAY on the wire: refused
    assert s.receive_data(c.data_to_send()) == []
    assert ("RstStreamFrame", 3) in frames(s.data_to_send())
    s.send_headers(1, 200, [], end_stream=True)
    assert frames(s.data_to_send()) == [("HeadersFrame", 1)]
    assert s.wants_close


def frames(wire):
    out = []
    while wire:
        f, length = Frame.parse_frame_header(memoryview(wire[:9]))
        out.append((type(f).__name__, f.stream_id))
        wire = wire[9 + length :]
    return out


def test_garbage_after_preface_is_a_protocol_error_not_an_exception():
    s = H2ServerCodec()
    events = s.receive_data(_raw_client_start() + b"\xff" * 40)
    assert events == [ProtocolViolation("frame of 16777215 bytes over the maximum frame size", error_code=0x6)]
    assert s.wants_close and s.stats["h2_frame_too_large"] == 1


def test_first_frame_must_be_settings():
    s = H2ServerCodec()
    events = s.receive_data(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + PingFrame(0).serialize())
    assert isinstance(events[-1], ProtocolViolation) and s.wants_close


def _open_post(limits=CodecLimits()):
    s, c = H2ServerCodec(limits), peer()
    c.send_headers(1, [(b":method", b"POST")] + REQ[1:])
    [req], _ = exchange(s, c)
    return s, req


def test_empty_data_frames_in_a_row_are_a_flood():
    """CVE-2019-9518: Envoy's max_consecutive_inbound_frames_with_empty_payload (default 1)."""
    s, _ = _open_post()
    empty = DataFrame(1, data=b"").serialize()
    padded_empty = DataFrame(1, data=b"", pad_length=5, flags=["PADDED"]).serialize()
    events = s.receive_data(empty + DataFrame(1, data=b"x").serialize() + padded_empty)
    assert [e.data for e in events if isinstance(e, Data)] == [b"", b"x", b""] and not s.wants_close
    [err] = s.receive_data(empty)  # the second empty frame in a row
    assert err.stream_id is None and err.error_code == ENHANCE_YOUR_CALM and s.wants_close
    assert s.stats["h2_inbound_empty_frames_flood"] == 1
    assert frames(s.data_to_send())[-1] == ("GoAwayFrame", 0)


def test_an_empty_frame_that_ends_the_stream_is_not_empty():
    s, _ = _open_post(CodecLimits(h2_max_consecutive_empty_frames=0))
    assert s.receive_data(DataFrame(1, data=b"", flags=["END_STREAM"]).serialize()) == [Data(1, b"", True)]
    assert "h2_inbound_empty_frames_flood" not in s.stats


def test_control_frames_queued_for_a_peer_that_does_not_read_are_a_flood():
    """Envoy's max_outbound_control_frames: PING ACKs the owner says are still unwritten pile up."""
    s = H2ServerCodec(CodecLimits(h2_max_outbound_control_frames=10))
    s.receive_data(_raw_client_start())
    taken = len(s.data_to_send())
    pings = b"".join(PingFrame(0, opaque_data=b"12345678").serialize() for _ in range(6))
    for _ in range(3):  # written each time: never more than 6 ACKs waiting
        s.receive_data(pings)
        s.note_unwritten(0)
        taken = len(s.data_to_send())
    assert not s.wants_close and taken == 6 * 17
    s.receive_data(pings)
    s.note_unwritten(taken)  # the peer stopped reading: the last 6 ACKs still wait, 6 more join them
    assert s.data_to_send() == b"" and s.wants_close and s.close_unflushed
    assert s.stats["h2_outbound_control_flood"] == 1


def test_frames_queued_for_a_peer_that_does_not_read_are_a_flood():
    """Envoy's max_outbound_frames: response DATA frames still unwritten count too."""
    s, c = H2ServerCodec(CodecLimits(h2_max_outbound_frames=8)), peer()
    c.send_headers(1, REQ, end_stream=True)
    exchange(s, c)
    s.send_headers(1, 200, [])
    unwritten = 0
    for _ in range(7):
        s.send_data(1, b"x" * 100)
        s.note_unwritten(unwritten)
        unwritten += len(s.data_to_send())
    assert not s.wants_close  # HEADERS + 7 DATA
    s.send_data(1, b"x" * 100)
    s.note_unwritten(unwritten)
    assert s.data_to_send() == b"" and s.close_unflushed
    assert s.stats["h2_outbound_flood"] == 1


def goaways(data: bytes) -> list[int]:
    """The last stream ids of the GOAWAY frames in `data`."""
    out, pos = [], 0
    while pos + 9 <= len(data):
        frame, length = Frame.parse_frame_header(memoryview(data[pos : pos + 9]))
        frame.parse_body(memoryview(data[pos + 9 : pos + 9 + length]))
        pos += 9 + length
        if frame.type == 0x7:
            out.append(frame.last_stream_id)
    return out


def test_a_connection_error_after_a_graceful_goaway_names_no_later_stream():
    """RFC 9113 6.8: the last stream id never increases. After a drain's GOAWAY(last=1), a
    connection error on a stream the client opened since named that stream (h2 names its highest
    inbound one; found by fuzz run session, h2_wire_goaway_last_stream_raised)."""
    s, c = H2ServerCodec(), peer()
    c.send_headers(1, REQ, end_stream=True)
    exchange(s, c)
    s.goaway()
    assert goaways(s.data_to_send()) == [1]
    c.send_headers(3, REQ, end_stream=True)  # refused: above the last stream we accept
    c.send_headers(5, REQ)
    s.receive_data(c.data_to_send())
    s.data_to_send()
    s.receive_data(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")  # DATA on stream 0: a connection error
    assert goaways(s.data_to_send()) == [1]
