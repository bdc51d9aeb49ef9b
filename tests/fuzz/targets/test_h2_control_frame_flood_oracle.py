"""The h2_codec harness's judgement of Envoy's inbound PRIORITY and WINDOW_UPDATE limits
(fuzz/targets/h2_floods.py check_control_frame_floods). Each planted bug (monkeypatched into the
codec) is caught; the real codec passes the same scripts."""

from pathlib import Path

import pytest
from hyperframe.frame import PriorityFrame, WindowUpdateFrame

from fuzz.oracles import InvariantViolation
from fuzz.targets import h2pair
from proxy.http._h2_guard import FrameGuard, OutboundFrames


def _get(pair, path=b"/"):
    sid = pair.command(pair.client, "send_request_headers", b"GET", path, b"a.example", [], end_stream=True)
    pair.client.sent[sid] = h2pair.Sent(head=(b"GET", path, b"a.example", b"http", []), ended=True)
    pair.settle()
    return sid


def priority_flood(pair):
    pair.settle()  # the prefaces and SETTINGS first
    pair.client.queue.append(b"".join(PriorityFrame(2 * i + 1, stream_weight=15).serialize() for i in range(300)))
    pair.server.tainted = True
    pair.drain(pair.client, 1)


def window_update_flood(pair):
    pair.settle()
    pair.client.queue.append(WindowUpdateFrame(0, window_increment=1).serialize() * 300)
    pair.server.tainted = True
    pair.drain(pair.client, 1)


def acknowledged_download(pair):
    """The server answers with 40 DATA frames (the pair's settle consumes them: the client credits
    them), then the client sends 200 WINDOW_UPDATEs of 1, some bandwidth estimator's way: about 200
    in all, within 5 + 2 x (1 + 10 x 40)."""
    sid = _get(pair)
    sent = pair.server.sent.setdefault(sid, h2pair.Sent())
    pair.command(pair.server, "send_headers", sid, 200, [], end_stream=False)
    sent.head = (200, [])
    for _ in range(40):
        pair.command(pair.server, "send_data", sid, b"x" * 1000, end_stream=False)
        sent.body += b"x" * 1000
        pair.settle()
    pair.client.queue.append(WindowUpdateFrame(0, window_increment=1).serialize() * 200)
    pair.server.tainted = True
    pair.drain(pair.client, 1)


def windows_opened_per_request(pair):
    """httpx's way: one WINDOW_UPDATE for the connection, then one for each stream right after its
    request; twelve requests answered 204 (no DATA). Within 5 + 2 x (streams opened + 10 x 0)."""
    pair.settle()
    pair.client.queue.append(WindowUpdateFrame(0, window_increment=2**24).serialize())
    pair.server.tainted = True
    pair.drain(pair.client, 1)
    for i in range(12):
        sid = pair.command(pair.client, "send_request_headers", b"GET", b"/%d" % i, b"a.example", [], end_stream=True)
        pair.client.sent[sid] = h2pair.Sent(head=(b"GET", b"/%d" % i, b"a.example", b"http", []), ended=True)
        pair.drain(pair.client, 1)
        pair.client.queue.append(WindowUpdateFrame(sid, window_increment=2**24).serialize())
        pair.drain(pair.client, 1)
        pair.settle()
        if pair.server.conn_dead:
            return
        pair.command(pair.server, "send_headers", sid, 204, [], end_stream=True)
        pair.server.sent[sid] = h2pair.Sent(head=(204, []), ended=True)
        pair.settle()


def _violation(script) -> str | None:
    try:
        script(h2pair.Pair())
    except InvariantViolation as e:
        return e.name
    return None


@pytest.mark.parametrize("script", [priority_flood, window_update_flood])
def test_the_real_codec_ends_and_counts_the_floods(script):
    pair = h2pair.Pair()
    script(pair)
    assert pair.server.conn_dead
    assert {"h2_inbound_priority_frames_flood", "h2_inbound_window_update_frames_flood"} & set(pair.server.codec.stats)


def test_a_client_crediting_what_it_read_is_no_flood():
    pair = h2pair.Pair()
    acknowledged_download(pair)
    assert not pair.server.conn_dead and pair.server.inbound.window_updates > 200


def test_a_codec_without_the_limits_is_caught(monkeypatch):
    monkeypatch.setattr(FrameGuard, "_control_flood", lambda self, kind: None)
    assert _violation(priority_flood) == "h2_flood_unchecked"
    assert _violation(window_update_flood) == "h2_flood_unchecked"


def test_a_limit_that_forgets_the_data_frames_sent_is_caught(monkeypatch):
    """Counting no DATA frame, the codec ends a connection whose client only credited what it read."""
    original = OutboundFrames._record

    def forgetting(self, header, start, end):
        original(self, header, start, end)
        self.data_frames = 0

    monkeypatch.setattr(OutboundFrames, "_record", forgetting)
    assert _violation(acknowledged_download) == "h2_flood_misjudged"


def test_a_client_opening_each_stream_window_is_no_flood():
    pair = h2pair.Pair()
    windows_opened_per_request(pair)
    assert not pair.server.conn_dead and pair.server.inbound.window_updates == 13


def test_a_limit_that_forgets_the_streams_opened_is_caught(monkeypatch):
    """Counting no stream opened, the codec ends the connection of a client that opens each stream's
    window as it sends the request, its answers carrying no DATA (planted-bug class:
    h2-window-update-allowance-ignores-streams)."""
    monkeypatch.setattr(FrameGuard, "opened_streams", property(lambda self: 0, lambda self, value: None), raising=False)
    assert _violation(windows_opened_per_request) == "h2_flood_misjudged"


SEED = Path(__file__).resolve().parents[3] / "corpus/h2_codec/regress-windows-opened-per-request-are-no-flood"


def test_the_window_opening_seed_is_clean_and_catches_the_class(monkeypatch):
    """The committed seed: SETTINGS both ways, a connection WINDOW_UPDATE, then six requests each
    followed by its stream's WINDOW_UPDATE and answered 204 (fuzz/mutators/fdp.py Script, as httpx)."""
    pair = h2pair.run(SEED.read_bytes())
    assert not pair.server.conn_dead and pair.server.inbound.window_updates == 7
    monkeypatch.setattr(FrameGuard, "opened_streams", property(lambda self: 0, lambda self, value: None), raising=False)
    with pytest.raises(InvariantViolation, match="h2_flood_misjudged"):
        h2pair.run(SEED.read_bytes())
