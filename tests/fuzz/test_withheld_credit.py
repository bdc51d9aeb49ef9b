"""A strict HTTP/2 peer that reads but withholds its window (fuzz.peers.h2_peer.withholds_credit), and
the large upstream bodies that make what the proxy buffers for such a client matter (fuzz/payloads.py).

The stalled-streams class (issue 13 defect 3, CVE-2019-9517's slow read): the client's 64 KiB
connection window runs out, the rest of every response waits in the proxy, which must bound it by
per_connection_buffer_limit_bytes per connection (fuzz/held.py).
"""

from fuzz.liveness import inner_codec, managers
from fuzz.payloads import h1_response
from fuzz.peers.h2_peer import settings_from_byte, withholds_credit
from fuzz.session import Action as A, Session
from fuzz.session_seeds import HTTP
from tests.fuzz.test_liveness import fails, http, run

STALLED = HTTP["h2_stalled_streams_large_bodies"]


def _actions_only(built, actions) -> Session:
    """The actions without settling: what the peers did while the session ran."""
    s = Session(built)
    for a in [A("connect")] + actions:
        s.apply(a)
        s.dispatcher.run_posted()
        s.check()
    return s


def _proxy_codec(session):
    """The proxy's HTTP/2 codec of the session's first downstream connection."""
    return inner_codec(next(hcm for _, hcm in managers(session)).codec)


def _body_bytes_read(session) -> int:
    return sum(len(ex.response.body) for ex in session.peers.exchanges if ex.response is not None)


def test_the_window_choices_past_the_table_withhold_credit():
    assert withholds_credit(6 << 2) and withholds_credit(7 << 2)
    assert not any(withholds_credit(w << 2) for w in range(6))
    assert 4 not in settings_from_byte(6 << 2) and settings_from_byte(7 << 2)[4] == 0


def test_a_large_body_is_chosen_by_the_seed_and_framed_by_its_length():
    out = h1_response(b"\x00\x00\x3c\x09abc", None)
    head, body = out.split(b"\r\n\r\n", 1)
    assert len(body) == 1 << 20 and b"Content-Length: 1048576" in head and body.startswith(b"abcabc")
    assert len(h1_response(b"\x00\x05\x00\x09abcdefgh", None).split(b"\r\n\r\n", 1)[1]) == 5


def test_a_withholding_client_leaves_the_proxy_without_window_until_settling():
    s = _actions_only(http(codec="HTTP2", limit=65536), STALLED)
    client = s.peers.clients[0]
    assert client.withhold and sum(client._withheld.values()) > 0
    assert _proxy_codec(s)._conn.outbound_flow_control_window == 0
    assert _proxy_codec(s).buffered_outbound_total() > 65536
    assert _body_bytes_read(s) == 65535  # one connection window, never reopened
    # The same script with a client that credits what it reads: the window is given back.
    crediting = _actions_only(http(codec="HTTP2", limit=65536), [A("settings", value=0)] + STALLED[1:])
    assert _body_bytes_read(crediting) > 65535


def test_stalled_streams_cost_the_proxy_one_limit_per_connection():
    s = run(http(codec="HTTP2", limit=65536), STALLED)
    done = [ex for ex in s.peers.exchanges if ex.outcome == "response"]
    assert len(done) == 3 and all(len(ex.response.body) == 1 << 20 for ex in done)  # settling released the credit


def test_stalled_streams_each_holding_a_limit_are_found_issue_13_defect_3(monkeypatch):
    # The connection manager never sees what the connection's streams hold together, only each stream's
    # own bytes: three stalled streams hold three limits.
    from proxy.http.conn_manager import HttpConnectionManager

    real = HttpConnectionManager._buffered_outbound
    monkeypatch.setattr(
        HttpConnectionManager,
        "_buffered_outbound",
        lambda self, stream_id=None: 0 if stream_id is None else real(self, stream_id),
    )
    err = fails("memory_held_over_limit_connection", http(codec="HTTP2", limit=262144), STALLED)
    assert "for the client's windows" in err.detail


# -- frames as large as the proxy advertised ---------------------------------------------------------
LARGE_FRAMES = HTTP["h2_large_frames_upload"]
BIG_FRAMES = "http2_protocol_options: {max_frame_size: 65536}"


def _frames_sent(session, index: int = 0) -> list:
    """(type, length) of every frame client `index` sent, after the preface."""
    from fuzz.peers.h2_wire import PREFACE

    data, out = bytes(session.downstream[index].sent)[len(PREFACE) :], []
    while len(data) >= 9:
        n = int.from_bytes(data[:3], "big")
        out.append((data[3], n))
        data = data[9 + n :]
    return out


def test_an_upload_goes_in_frames_as_large_as_the_proxy_advertised():
    s = run(http(codec="HTTP2", hcm=BIG_FRAMES), LARGE_FRAMES)
    assert max(n for t, n in _frames_sent(s) if t == 0) == 32768
    (_, upload) = s.peers.exchanges
    assert upload.outcome == "response" and len(upload.upstreams[0].request.body) == 32768


def test_a_proxy_that_refuses_frames_within_its_advertised_size_is_found(monkeypatch):
    # The planted bug: the codec advertises max_frame_size but h2 keeps its own 16384 limit.
    from proxy.http import h2 as proxy_h2

    real = proxy_h2._H2Codec.__init__

    def init(self, *args, **kwargs):
        real(self, *args, **kwargs)
        self._conn.max_inbound_frame_size = 16384

    monkeypatch.setattr(proxy_h2._H2Codec, "__init__", init)
    err = fails("h2_wire_unearned_frame_size_error", http(codec="HTTP2", hcm=BIG_FRAMES), LARGE_FRAMES)
    assert "65536-byte SETTINGS_MAX_FRAME_SIZE" in err.detail


def test_a_frame_over_the_advertised_size_earns_its_error():
    # The proxy advertises the default 16384: a client frame over it is refused, and that is earned.
    from fuzz.peers.h2_wire import H2Monitor, PREFACE

    monitor = H2Monitor(judged_is_client=False)
    monitor.peer(PREFACE + (20000).to_bytes(3, "big") + bytes([0, 0]) + (1).to_bytes(4, "big") + bytes(20000))
    goaway = (8).to_bytes(3, "big") + bytes([7, 0]) + bytes(4) + bytes(4) + (6).to_bytes(4, "big")
    assert monitor.judged(goaway)


# -- a window raised by SETTINGS ---------------------------------------------------------------------
RAISED = HTTP["h2_window_raised_by_settings"]


def test_a_window_raised_by_settings_lets_the_held_body_go():
    s = run(http(codec="HTTP2"), RAISED)
    (ex,) = s.peers.exchanges
    assert ex.outcome == "response" and ex.response.body == b"w" * 48
    assert not s.peers.clients[0].zero_window  # no WINDOW_UPDATE opened it: the SETTINGS did


def test_a_proxy_that_waits_for_window_update_after_settings_is_found(monkeypatch):
    # The planted bug (curl/curl#11450's class): held DATA is retried on WINDOW_UPDATE only.
    import h2.events
    from proxy.http import h2 as proxy_h2

    real = proxy_h2._H2Codec._translate

    def translate(self, ev, merged, events):
        if not isinstance(ev, h2.events.RemoteSettingsChanged):
            real(self, ev, merged, events)

    monkeypatch.setattr(proxy_h2._H2Codec, "_translate", translate)
    fails("stall_request_without_outcome", http(codec="HTTP2"), RAISED)


def test_a_stream_whose_upstream_connects_after_the_client_stalled_stays_paused():
    """fuzz run session (6 min, config-s2-0002): the client's window ran out while the third
    stream's upstream was still connecting, so the router counted a pause it could not apply yet; when
    the connection's pause lifted, the resume took off the stream's own later pause instead, and 1 MB
    of its response piled up behind a 1 KiB buffer limit (the router now applies held pauses to an
    upstream when it arrives, as Envoy's addDownstreamWatermarkCallbacks does)."""
    late = STALLED[:4] + [A("upstream_connect", 1), A("upstream_connect", 2)]
    late += [A("upstream_read", i) for i in range(3)] + [STALLED[10], STALLED[11]]
    late += [A("upstream_connect", 0), STALLED[12], A("read"), A("read")]
    s = run(http(codec="HTTP2", limit=1026), late)
    assert [ex.outcome for ex in s.peers.exchanges] == ["response"] * 3


def test_a_backed_up_keep_alive_client_asking_again_costs_one_limit():
    """session_seeds "backed_up_client_asks_again": a client that does not read gets a 4 KiB answer
    (its write buffer over the 1 KiB limit), then asks again; the 1 MiB answer waits upstream until
    the client reads (memory_held_over_limit_connection, 1,052,757 bytes held, before the stream born
    over the watermark started paused)."""
    s = run(http(limit=1024), HTTP["backed_up_client_asks_again"])
    assert [len(ex.response.body) for ex in s.peers.exchanges] == [4096, 1 << 20]
