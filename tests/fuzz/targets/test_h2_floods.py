"""The h2_codec harness's flood oracles (fuzz/targets/h2_floods.py): Envoy's documented limits on
empty inbound frames and on frames waiting for the wire, judged from the bytes. Each planted bug
(monkeypatched into the codec) is caught; the real codec passes the same scripts."""

import atheris
import pytest
from hyperframe.frame import DataFrame

import proxy.http.h2 as h2_codec
from fuzz.oracles import InvariantViolation
from fuzz.targets import h2pair
from fuzz.targets.h2_floods import flood_bytes
from proxy.http._h2_guard import FrameGuard, OutboundFrames


def _post_open(pair):
    sid = pair.command(pair.client, "send_request_headers", b"POST", b"/", b"a.example", [], end_stream=False)
    pair.client.sent[sid] = h2pair.Sent(head=(b"POST", b"/", b"a.example", b"http", []))
    pair.settle()
    return sid


def empty_data_flood(pair):
    sid = _post_open(pair)
    pair.client.queue.append(DataFrame(sid, data=b"").serialize() * 5)
    pair.server.tainted = True
    pair.drain(pair.client, 1)


def rst_stream_flood(pair):
    """The server resets a stream; the client keeps sending one-byte DATA on it, 1500 frames in one
    write: 1500 RST_STREAMs would wait in the server's queue (limit 1000)."""
    sid = _post_open(pair)
    pair.command(pair.server, "reset_stream", sid)
    pair.client.queue.append(DataFrame(sid, data=b"x").serialize() * 1500)
    pair.server.tainted = True
    pair.drain(pair.client, 1)


def _violation(script) -> str | None:
    try:
        script(h2pair.Pair())
    except InvariantViolation as e:
        return e.name
    return None


@pytest.mark.parametrize("script", [empty_data_flood, rst_stream_flood])
def test_the_real_codec_enforces_and_counts_the_limits(script):
    pair = h2pair.Pair()
    script(pair)
    assert pair.server.conn_dead or pair.server.codec.close_unflushed
    assert {"h2_inbound_empty_frames_flood", "h2_outbound_control_flood"} & set(pair.server.codec.stats)


def test_an_unchecked_empty_frame_run_is_caught(monkeypatch):
    monkeypatch.setattr(FrameGuard, "whole_frame", lambda self, frame: None)
    assert _violation(empty_data_flood) == "h2_flood_unchecked"


def test_an_uncounted_flood_is_caught(monkeypatch):
    counted = h2_codec._count
    monkeypatch.setattr(h2_codec, "_count", lambda stats, key: None if "flood" in key else counted(stats, key))
    assert _violation(empty_data_flood) == "h2_flood_uncounted"
    assert _violation(rst_stream_flood) == "h2_flood_uncounted"


def test_a_flood_counted_where_the_bytes_have_none_is_caught(monkeypatch):
    original = FrameGuard.whole_frame

    def every_data_frame_empty(self, frame):  # the payload length check lost
        return original(self, frame[:9] if frame[3] == 0 and not frame[4] & 1 else frame)

    monkeypatch.setattr(FrameGuard, "whole_frame", every_data_frame_empty)

    def one_byte_frames(pair):
        sid = _post_open(pair)
        pair.client.queue.append(DataFrame(sid, data=b"x").serialize() * 3)
        pair.server.tainted = True
        pair.drain(pair.client, 1)

    assert _violation(one_byte_frames) == "h2_flood_misjudged"


def test_an_outbound_queue_without_a_bound_is_caught(monkeypatch):
    monkeypatch.setattr(OutboundFrames, "add", lambda self, out: None)
    assert _violation(rst_stream_flood) == "h2_flood_unchecked"


def test_frames_the_peer_has_read_do_not_count(monkeypatch):
    """The same 1500 RST_STREAMs, read by the client as they come (in pieces of 600 DATA frames)."""
    pair = h2pair.Pair()
    sid = _post_open(pair)
    pair.command(pair.server, "reset_stream", sid)
    for _ in range(3):
        pair.client.queue.append(DataFrame(sid, data=b"x").serialize() * 500)
        pair.drain(pair.client, 1)
        pair.drain(pair.server, len(pair.server.queue))
    assert not pair.server.codec.wants_close


def test_flood_action_builds_the_requested_shape():
    fdp = atheris.FuzzedDataProvider(bytes([0, 0, 8, 0]))  # empty_data, copies from the next bytes, no breaker
    wire = flood_bytes(fdp, 1)
    assert len(wire) % 9 == 0 and wire[:9] == DataFrame(1, data=b"").serialize() and len(wire) // 9 >= 2


@pytest.mark.parametrize("seed", range(40))
def test_flood_bytes_hold_a_breaker_at_every_every_th_copy(seed):
    """The repeated-pattern construction equals the definition: copy i is the breaker when
    every > 0 and i % every == every - 1."""
    import random

    from fuzz.targets.h2_floods import FLOOD_KINDS, MAX_COPIES

    rng = random.Random(seed)
    while True:  # an input that floods with empty DATA
        data = rng.randbytes(9)
        decode = atheris.FuzzedDataProvider(data)
        if decode.PickValueInList(FLOOD_KINDS) == "empty_data":
            break
    copies, every = decode.ConsumeIntInRange(2, MAX_COPIES), decode.ConsumeIntInRange(0, 8)
    wire = flood_bytes(atheris.FuzzedDataProvider(data), 1)
    one, breaker = DataFrame(1, data=b"").serialize(), DataFrame(1, data=b"x").serialize()
    assert wire == b"".join(breaker if every and i % every == every - 1 else one for i in range(copies))


def test_frame_reader_finds_the_same_frames_in_any_split():
    from hyperframe.frame import PingFrame
    from fuzz.targets.h2_floods import PREFACE_LEN, _Reader

    wire = b"P" * PREFACE_LEN + b"".join(
        DataFrame(1, data=b"a" * n).serialize() if n % 3 else PingFrame(0).serialize() for n in range(60)
    )
    whole = _Reader(PREFACE_LEN).frames(wire)
    assert len(whole) == 60 and whole[-1][4] == len(wire)
    assert [f[5] for f in whole] == [1 if n % 3 else 0 for n in range(60)]  # the stream ids
    assert [(k, n) for k, _, n, _, _, _ in whole] == [(0, n) if n % 3 else (6, 8) for n in range(60)]
    for size in (1, 2, 9, 10, 31):
        reader = _Reader(PREFACE_LEN)
        pieces = [f for i in range(0, len(wire), size) for f in reader.frames(wire[i : i + size])]
        assert pieces == whole


def test_fragments_keep_the_size_of_the_codecs_own_output_through_every_change():
    from fuzz.targets.h2_floods import Fragments, Own, unwritten

    queue = Fragments([Own(b"abc"), b"xy"])
    queue.append(Own(b"defg"))
    queue.insert(0, Own(b"h"))
    assert unwritten(queue) == 8
    queue[1] = queue[1][1:]  # a split piece is plain bytes again: no longer the codec's
    queue[0], queue[2] = queue[2], queue[0]  # swaps keep the size
    assert unwritten(queue) == 5 == sum(len(f) for f in queue if isinstance(f, Own))
    queue.pop(0)
    del queue[0]
    assert unwritten(queue) == 5  # two plain pieces gone
    queue.pop(0)
    assert unwritten(queue) == 4
    queue.clear()
    assert unwritten(queue) == 0


class _Picks:
    """A FuzzedDataProvider stand-in that answers ConsumeIntInRange with the given values in order."""

    def __init__(self, *values):
        self.values = list(values)

    def ConsumeIntInRange(self, low, high):
        value = self.values.pop(0)
        assert low <= value <= high
        return value


def _blocks(blocks, continuations):
    def script(pair):
        from fuzz.targets.h2_floods import header_blocks

        pair.settle()
        pair.client.queue.append(header_blocks(_Picks(blocks, continuations), 1))
        pair.server.tainted = True
        pair.drain(pair.client, 1)

    return script


def test_header_blocks_within_the_per_block_limit_pass_and_one_over_it_ends_the_connection():
    pair = h2pair.Pair()
    _blocks(3, 9)(pair)  # 27 CONTINUATION frames, 9 per block: legal
    assert not pair.server.conn_dead and len(pair.server.got) == 3
    pair = h2pair.Pair()
    _blocks(1, 17)(pair)
    assert pair.server.conn_dead and pair.server.codec.stats.get("h2_continuation_flood")


def test_a_continuation_count_kept_across_header_blocks_is_caught(monkeypatch):
    """CVE-2024-30255's defence counts per header block; a count not reset by a new HEADERS frame
    turns on clients whose every block is legal."""
    original = FrameGuard._check

    def count_not_reset(self, header):
        kept = self._continuations
        verdict = original(self, header)
        if header[3] == 0x1:
            self._continuations = kept
        return verdict

    monkeypatch.setattr(FrameGuard, "_check", count_not_reset)
    assert _violation(_blocks(3, 9)) == "h2_flood_misjudged"


def test_a_continuation_limit_not_applied_is_caught(monkeypatch):
    original = FrameGuard._check

    def never_counted(self, header):
        self._continuations = 0
        return original(self, header)

    monkeypatch.setattr(FrameGuard, "_check", never_counted)
    assert _violation(_blocks(1, 17)) == "h2_flood_unchecked"
