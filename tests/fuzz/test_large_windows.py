"""HTTP/2 peers that grant windows past h2's default (the session's `window` and `upstream_window`
ops, fuzz.peers.h2_peer.LARGE_WINDOWS): with a client ready for 2 GiB, nothing but the proxy's
own buffer limits bounds what it holds for that client, so a proxy that ignores its write-buffer
watermarks is found by the held-memory oracle (fuzz/held.py); with windows of 64 KiB the peer's
window hid it.
"""

from fuzz.peers.h2_peer import HUGE_HEADER_TABLE, LARGE_WINDOWS, large_transfer_settings, large_window
from fuzz.session import Action as A, Reader, decode_actions, encode_actions
from fuzz.session_seeds import HTTP
from tests.fuzz.test_liveness import fails, http, run
from tests.fuzz.test_withheld_credit import _actions_only, _body_bytes_read

ONE_MIB_ANSWER = [
    A("send_http", value=3, payload=b"\x00" * 6),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_http", value=0, payload=b"\x00\x00\x3c\x09" + b"L" * 16),
]


def test_the_window_ops_round_trip_and_reach_the_largest_window_rfc_9113_allows():
    actions = [A("window", 1, value=2), A("upstream_window", 0, value=4)]
    assert decode_actions(Reader(encode_actions(actions)[2:]))[1:] == actions
    assert {large_window(b) for b in range(256)} == set(LARGE_WINDOWS)
    assert max(LARGE_WINDOWS) == 2**31 - 1
    assert {len(large_transfer_settings(b)) for b in range(128)} == {1}  # the window alone
    assert all(large_transfer_settings(b)[1] == HUGE_HEADER_TABLE for b in range(128, 256))  # and the table


def test_a_client_granting_a_large_window_is_sent_past_64_kib_before_it_credits_anything():
    stalled = HTTP["h2_stalled_streams_large_bodies"]  # the client withholds its credit
    small = _actions_only(http(codec="HTTP2", limit=65536), stalled)
    large = _actions_only(http(codec="HTTP2", limit=65536), stalled[:1] + [A("window", value=1)] + stalled[1:])
    assert _body_bytes_read(small) == 65535
    assert _body_bytes_read(large) > 65535
    assert large.peers.clients[0].withhold  # raising the window kept the client's other choice


def test_the_script_runs_clean_on_the_fixed_proxy():
    s = run(http(codec="HTTP2", limit=1024), HTTP["h2_large_windows_slow_reader"])
    assert [(ex.outcome, ex.response.status) for ex in s.peers.exchanges] == [("response", 200)] * 2
    assert all(len(ex.response.body) == 1 << 20 for ex in s.peers.exchanges)
    assert len(s.peers.exchanges[0].request.body) == 65535  # the upload, as far as the proxy's window let it


def test_a_connection_manager_deaf_to_its_write_watermark_is_found_only_with_a_large_window(monkeypatch):
    from proxy.http.conn_manager import HttpConnectionManager

    monkeypatch.setattr(HttpConnectionManager, "on_above_write_buffer_high_watermark", lambda self: None)
    run(http(codec="HTTP2", limit=1024), ONE_MIB_ANSWER)  # the client's 64 KiB window bounded it
    err = fails(
        "memory_held_over_limit_connection", http(codec="HTTP2", limit=1024), [A("window", value=2)] + ONE_MIB_ANSWER
    )
    assert "its limit is 1024" in str(err)


def test_an_encoder_table_following_a_client_allowing_4_gib_is_found(monkeypatch):
    # Bit 7 of the window op: the client announces the largest HPACK table; the proxy's encoder keeps
    # 4 KiB (nghttp2's, Envoy's codec). With that cap lifted (h2's own behaviour, black-box round 4),
    # the session's wire monitor sees the table size update.
    from proxy.http import _h2_gaps

    script = [A("window", value=0x80)] + ONE_MIB_ANSWER[:3] + [A("upstream_http", value=0, payload=b"\x00\x02ok")]
    run(http(codec="HTTP2"), script)
    monkeypatch.setattr(_h2_gaps, "ENCODER_TABLE_LIMIT", 2**32)
    err = fails("h2_wire_hpack_table_too_large", http(codec="HTTP2"), script)
    assert "4294967295" in str(err)


def test_a_peer_raising_its_window_over_a_credited_stream_stays_within_h2s_maximum():
    # An HTTP/2 upstream announced 2^31-1 after it had credited a stream (session campaign at 6 min,
    # config-s1-0000): at the proxy's ACK, h2 added the change to that stream's window and refused its
    # own sum (h2_peer_flow_control_error on the proxy's SETTINGS ACK): the peer's fault, not the proxy's.
    # h2 is told at most H2_LENIENT_WINDOW (the wire monitor judges the real window).
    from pathlib import Path

    from fuzz.session import ConfigPool, run_input

    (seed,) = (Path(__file__).resolve().parents[2] / "corpus" / "session").glob(
        "regress-upstream-window-after-credit-df34ebbfd606"
    )
    run_input(ConfigPool.default(), seed.read_bytes())


def test_a_client_overflowing_the_proxys_window_with_raw_bytes_is_the_proxys_to_refuse():
    # A raw WINDOW_UPDATE of 2^31-1 on the connection from a client whose strict peer also speaks (the
    # peer learns such credit as foreign): h2's bookkeeping of it raised FlowControlError out of the
    # harness (PLANT's network_filter bench run). The proxy refuses the window (GOAWAY), as it must.
    overflow = bytes([0, 0, 4, 8, 0, 0, 0, 0, 0]) + (2**31 - 1).to_bytes(4, "big")
    s = run(http(codec="HTTP2"), ONE_MIB_ANSWER[:1] + [A("send", payload=overflow)] + ONE_MIB_ANSWER[1:])
    assert [ex.outcome for ex in s.peers.exchanges] == ["reset"]
    assert s.ctx.stats.counter("http.h2_protocol_error") == 1


def test_credit_withheld_before_a_window_raised_to_the_maximum_is_given_back_within_it():
    # A client withholding its credit read 64 KiB, then announced 2^31-1 (its connection window raised
    # to the maximum); settling gave back what it had withheld on top: h2 raised FlowControlError out
    # of the harness (MISSES's bench runs). The peer now credits only the room left.
    stalled = HTTP["h2_stalled_streams_large_bodies"]  # the client withholds its credit
    s = run(http(codec="HTTP2", limit=65536), stalled + [A("window", value=2)])
    assert [(ex.outcome, len(ex.response.body)) for ex in s.peers.exchanges] == [("response", 1 << 20)] * 3


def test_a_window_lowered_after_a_raise_is_opened_by_settling():
    # A client that announced 2^31-1 then SETTINGS with a 16-byte window (session campaign, examples/
    # http.yaml): settling opened windows from h2's count, which still held the lenient 1 GiB, so no
    # WINDOW_UPDATE went out and two 1 MiB bodies moved 16 bytes a round (settle_unbounded). Settling
    # now opens the windows the wire monitor counts.
    from pathlib import Path

    from fuzz.session import ConfigPool, run_input

    (seed,) = (Path(__file__).resolve().parents[2] / "corpus" / "session").glob(
        "regress-window-lowered-after-a-raise-5c4083267384"
    )
    run_input(ConfigPool.default(), seed.read_bytes())
