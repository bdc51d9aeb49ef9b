"""The h2_codec harness's must-fire rapid-reset oracle (fuzz/targets/h2_floods.py,
check_rapid_reset_enforced): more than h2_rapid_reset_max of a client's last h2_rapid_reset_window
streams ended before their response, reset by the client (CVE-2023-44487) or refused and rejected by
the server ("MadeYouReset", CVE-2025-8671), must end the connection. Planted bugs (monkeypatched into
the codec) are caught; the real codec passes the same scripts, and a client under the limit is no flood."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import h2pair
from fuzz.targets.h2_floods import stream_churn
from proxy.http.h2 import H2ServerCodec


class _Picks:
    """A FuzzedDataProvider stand-in handing out chosen values."""

    def __init__(self, *values) -> None:
        self.values = list(values)

    def ConsumeIntInRange(self, low, high):
        value = self.values.pop(0)
        assert low <= value <= high
        return value

    def PickValueInList(self, values):
        value = self.values.pop(0)
        assert value in values
        return value


def churn(streams: int, every: int, way: str):
    def script(pair):
        pair.settle()
        pair.client.queue.append(stream_churn(_Picks(streams, every, way), 1))
        pair.server.tainted = True
        pair.drain(pair.client, 1)

    return script


def _violation(script) -> str | None:
    try:
        script(h2pair.Pair())
    except InvariantViolation as e:
        return e.name
    return None


WAYS = ["cancel", "fragment", "length_without_body", "mixed"]


@pytest.mark.parametrize("way", WAYS)
def test_the_real_codec_ends_a_connection_whose_streams_end_before_their_response(way):
    pair = h2pair.Pair()
    churn(80, 0, way)(pair)
    assert pair.server.codec.stats.get("h2_rapid_reset") == 1
    assert pair.server.conn_dead


@pytest.mark.parametrize("way", WAYS)
def test_a_client_under_the_limit_is_no_flood(way):
    pair = h2pair.Pair()
    churn(100, 2, way)(pair)  # every second stream a plain request left open: 50 of 100 ended early
    assert not pair.server.codec.stats.get("h2_rapid_reset")
    assert not pair.server.conn_dead


def _server_resets_uncounted(monkeypatch):
    """The MadeYouReset bug: streams the server rejects as malformed are not counted."""
    original = H2ServerCodec._malformed

    def malformed(self, stream_id, reason, events):
        self._reset_early = lambda *args: None
        try:
            original(self, stream_id, reason, events)
        finally:
            del self._reset_early

    monkeypatch.setattr(H2ServerCodec, "_malformed", malformed)


@pytest.mark.parametrize("way", ["fragment", "length_without_body", "mixed"])
def test_server_resets_left_out_of_the_count_are_caught(monkeypatch, way):
    _server_resets_uncounted(monkeypatch)
    assert _violation(churn(80, 0, way)) == "h2_flood_unchecked"


def test_server_resets_left_out_of_the_count_do_not_matter_for_client_cancels(monkeypatch):
    _server_resets_uncounted(monkeypatch)
    assert _violation(churn(80, 0, "cancel")) is None


def test_a_defence_that_counts_nothing_is_caught(monkeypatch):
    monkeypatch.setattr(H2ServerCodec, "_reset_early", lambda self, stream_id, events: None)
    for way in WAYS:
        assert _violation(churn(80, 0, way)) == "h2_flood_unchecked", way


def test_churned_streams_have_increasing_ids_and_the_asked_shape():
    wire = stream_churn(_Picks(6, 3, "cancel"), 7)
    frames, pos = [], 0
    while pos < len(wire):
        length = int.from_bytes(wire[pos : pos + 3], "big")
        frames.append((wire[pos + 3], int.from_bytes(wire[pos + 5 : pos + 9], "big")))
        pos += 9 + length
    headers = [sid for kind, sid in frames if kind == 0x1]
    resets = [sid for kind, sid in frames if kind == 0x3]
    assert headers == [7, 9, 11, 13, 15, 17]
    assert resets == [7, 9, 13, 15]  # every third stream (11, 17) a plain request left open
