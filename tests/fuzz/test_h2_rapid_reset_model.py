"""fuzz/targets/h2_floods.py, h2_flood_misjudged for rapid reset: the codec may end a connection as a
rapid reset (CVE-2023-44487) only when some window of h2_rapid_reset_window streams the client opened
holds more than h2_rapid_reset_max resets. Shown with h2_codec's cancelling client (fuzz/mutators/
h2_actions.py: one stream in `every` cancelled, over more streams than a window) on the real codec,
on a real flood, and on a planted bug (resets never forgotten as the window slides)."""

import random

import pytest

from fuzz.mutators import h2_actions
from fuzz.oracles import InvariantViolation
from fuzz.targets import h2pair
from fuzz.targets.h2_floods import most_reset_in_window


def _client(every: int, streams: int) -> bytes:
    script = h2_actions.Script()
    h2_actions.cancelling_client(script, random.Random(0), every=every, streams=streams)
    return script.around(b"")


def test_the_window_counts_recent_resets_only():
    opened = list(range(1, 400, 2))  # 200 streams
    assert most_reset_in_window(opened, set(opened[::2]), 100) == 50  # one in two: never more than half
    assert most_reset_in_window(opened, set(opened[:60]), 100) == 60
    assert most_reset_in_window(opened, set(opened[:30] + opened[150:]), 100) == 50
    assert most_reset_in_window(opened, set(), 100) == 0


def test_a_client_cancelling_one_stream_in_two_is_served():
    pair = h2pair.run(_client(every=2, streams=140))  # 70 cancels, at most 50 in any 100 streams
    assert len(pair.server.inbound.opened) == 140
    assert pair.server.codec.stats.get("h2_rapid_reset", 0) == 0
    assert not pair.server.conn_dead


def test_a_real_rapid_reset_is_counted_and_not_misjudged():
    pair = h2pair.run(_client(every=1, streams=60))  # every stream cancelled
    assert pair.server.codec.stats.get("h2_rapid_reset", 0) == 1


def test_resets_never_forgotten_are_found(monkeypatch):
    from proxy.http import h2

    def opened_keeping_resets(self, stream_id):  # the planted bug: the window slides, its resets stay
        st = h2._Stream()
        self._streams[stream_id] = st
        self._recent.append(stream_id)
        self._recent_set.add(stream_id)
        if len(self._recent) > self.limits.h2_rapid_reset_window:
            self._recent_set.discard(self._recent.popleft())
        return st

    monkeypatch.setattr(h2._H2Codec, "_opened", opened_keeping_resets)
    with pytest.raises(InvariantViolation) as caught:
        h2pair.run(_client(every=2, streams=140))
    assert caught.value.name == "h2_flood_misjudged", str(caught.value)
    assert "rapid reset" in caught.value.detail
