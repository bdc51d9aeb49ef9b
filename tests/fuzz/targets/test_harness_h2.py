"""The h2_codec harness: its oracles hold on real exchanges and fail on planted bugs (a lost header,
lost body bytes, an event after the end, an exception out of input handling, a broken HPACK round
trip, split dependence); regression tests for the codec bugs it found."""

import random

import atheris
import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import h2pair, seeds
from proxy.http import h2 as h2_codec
from proxy.http._h2_guard import FrameGuard
from proxy.http.codec import Data, ResponseHeaders, Trailers
from proxy.http.h2 import H2ClientCodec, H2ServerCodec

CAPTURES = seeds.h2_captures()


def exchange(pair, body=b"hello", trailers=None, extra=()):
    """A scripted request and response through the pair's model (as the actions do it)."""
    c, s = pair.client, pair.server
    head = (
        b"POST",
        b"/up",
        b"a.example",
        b"http",
        [(b"accept", b"*/*"), (b"connection", b"x-hop"), (b"x-hop", b"1"), *extra],
    )
    sid = pair.command(c, "send_request_headers", *head[:3], head[4], scheme=head[3])
    c.sent[sid] = h2pair.Sent(head=head)
    pair.command(c, "send_data", sid, body, end_stream=trailers is None)
    c.sent[sid].body += body
    if trailers is not None:
        pair.command(c, "send_trailers", sid, trailers)
        c.sent[sid].trailers = trailers
    c.sent[sid].ended = True
    pair.settle()
    pair.command(s, "send_headers", sid, 200, [(b"x-r", b"1")], end_stream=True)
    s.sent[sid] = h2pair.Sent(head=(200, [(b"x-r", b"1")]), ended=True)
    pair.settle()
    return sid


def test_real_exchange_passes_every_oracle():
    pair = h2pair.Pair()
    sid = exchange(pair, trailers=[(b"x-sum", b"5")])
    assert pair.server.got[sid].body == b"hello" and pair.server.got[sid].trailers == [(b"x-sum", b"5")]
    assert isinstance(pair.client.got[sid].head, ResponseHeaders)


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_captures_are_split_invariant(name):
    h2pair.check(CAPTURES[name])


def test_random_action_scripts_run_clean():
    rng = random.Random(7)
    for _ in range(200):
        h2pair.run(rng.randbytes(rng.randint(0, 400)))


# ------------------------------------------------------------------------------ planted bugs
def test_planted_lost_header_is_a_request_mismatch(monkeypatch):
    original = h2_codec._outbound
    monkeypatch.setattr(h2_codec, "_outbound", lambda hs: [(n, v) for n, v in original(hs) if n != b"accept"])
    with pytest.raises(InvariantViolation, match="h2_request_mismatch"):
        exchange(h2pair.Pair())


def test_an_expect_100_continue_request_is_marked_for_the_connection_manager():
    pair = h2pair.Pair()
    sid = exchange(pair, extra=[(b"expect", b"100-continue")])
    assert pair.server.got[sid].head.expect_continue and pair.server.got[sid].body == b"hello"


def test_planted_expect_continue_lost_is_caught(monkeypatch):
    """BLACKBOX round 3: the HTTP/2 codec never marked Expect: 100-continue, so no 100 went out and a
    client waiting for it before its body stalled (curl: 1 s a request)."""
    from proxy.http.codec import RequestHeaders

    monkeypatch.setattr(
        h2_codec, "RequestHeaders", lambda *a, **k: RequestHeaders(*a, **{**k, "expect_continue": False})
    )
    with pytest.raises(InvariantViolation, match="h2_expect_continue_lost"):
        exchange(h2pair.Pair(), extra=[(b"expect", b"100-continue")])


def test_planted_lost_body_byte_is_a_data_mismatch(monkeypatch):
    monkeypatch.setattr(h2_codec, "Data", lambda sid, data, end: Data(sid, data[1:], end))
    with pytest.raises(InvariantViolation, match="h2_data_mismatch"):
        exchange(h2pair.Pair())


def test_planted_event_after_end_is_caught(monkeypatch):
    original = H2ServerCodec.receive_data

    def echo_end(self, data):
        events = original(self, data)
        ends = [e for e in events if isinstance(e, Data) and e.end_stream]
        return events + ends[-1:]

    monkeypatch.setattr(H2ServerCodec, "receive_data", echo_end)
    with pytest.raises(InvariantViolation, match="h2_event_after_end"):
        exchange(h2pair.Pair())


def test_planted_exception_on_input_is_caught(monkeypatch):
    original = FrameGuard._check

    def raise_on_ping(self, header):
        if header[3] == 0x6:
            raise KeyError("planted")
        return original(self, header)

    monkeypatch.setattr(FrameGuard, "_check", raise_on_ping)
    with pytest.raises(InvariantViolation, match="h2_input_raised.*KeyError"):
        h2pair.check(CAPTURES["h2_several"])


def test_planted_split_dependence_is_caught(monkeypatch):
    original = H2ServerCodec.receive_data
    monkeypatch.setattr(
        H2ServerCodec, "receive_data", lambda self, data: [] if len(data) == 1 else original(self, data)
    )
    with pytest.raises(InvariantViolation, match="h2_split_variance"):
        h2pair.check(CAPTURES["h2_get"])


def test_the_capture_split_ends_a_read_at_every_frame_header_and_frame():
    """A read ends where each frame header ends and where each frame ends, so a frame reader's state
    across reads is exercised at the boundaries that matter; no byte is lost or added."""
    from fuzz.targets.h1 import splits

    data = CAPTURES["h2_several"]
    cuts = h2pair.frame_cuts(data)
    pieces = splits(data, cuts)["input_chosen"]
    ends = {sum(map(len, pieces[: i + 1])) for i in range(len(pieces))}
    assert b"".join(pieces) == data and set(c for c in cuts if c <= len(data)) <= ends
    assert len(cuts) >= 6  # preface end, then header end and frame end of each frame


def test_planted_hpack_decoder_bug_breaks_the_round_trip():
    rng = random.Random(3)
    caught = 0
    for _ in range(50):
        pair = h2pair.Pair()
        decode = pair.hpack_decoder.decode
        pair.hpack_decoder.decode = lambda block, raw=False: decode(block, raw=raw)[1:]  # loses the first field
        try:
            h2pair.act_hpack_roundtrip(pair, atheris.FuzzedDataProvider(rng.randbytes(200)))
        except InvariantViolation as e:
            assert e.name == "h2_hpack_roundtrip"
            caught += 1
    assert caught > 10


# ------------------------------------------------------------------ codec bugs the harness found
def test_trailers_of_only_hop_by_hop_fields_end_the_stream():
    pair = h2pair.Pair()
    sid = exchange(pair, trailers=[(b"keep-alive", b"1")])
    got = pair.server.got[sid]
    assert got.ended and got.trailers is None and got.body == b"hello"


def test_reset_of_a_finished_stream_with_unconsumed_data_is_ignored():
    client, server = H2ClientCodec(), H2ServerCodec()
    server.receive_data(client.data_to_send())
    sid = client.send_request_headers(b"GET", b"/", b"a", [], end_stream=True)
    [req] = [e for e in server.receive_data(client.data_to_send()) if hasattr(e, "method")]
    server.send_headers(req.stream_id, 200, [])
    server.send_data(req.stream_id, b"body", end_stream=True)
    events = client.receive_data(server.data_to_send())
    assert isinstance(events[-1], Data) and events[-1].end_stream  # unconsumed: the codec keeps the stream
    client.reset_stream(sid)  # h2 considers it closed; the codec must not raise
    assert not [
        e
        for e in server.receive_data(client.data_to_send())
        if not isinstance(e, Trailers) and getattr(e, "stream_id", None) == sid
    ]


def test_a_section_over_the_peers_header_list_limit_is_refused_and_the_stream_ended():
    """SETTINGS_MAX_HEADER_LIST_SIZE from the client (fuzzers inject it): the server codec refuses
    a larger response head before sending anything (HeaderListTooLarge, codec contract); the pair
    reads that as REFUSED, not as a harness crash, and ends the stream as an owner would."""
    from h2.settings import SettingCodes

    pair = h2pair.Pair()
    c, s = pair.client, pair.server
    c.codec._conn.update_settings({SettingCodes.MAX_HEADER_LIST_SIZE: 64})
    head = (b"GET", b"/", b"a.example", b"http", [])
    sid = pair.command(c, "send_request_headers", *head[:3], head[4], end_stream=True, scheme=head[3])
    c.sent[sid] = h2pair.Sent(head=head, ended=True)
    pair.settle()
    assert pair.command(s, "send_headers", sid, 200, [(b"x-big", b"v" * 200)], end_stream=True) is h2pair.REFUSED
    h2pair._reset_refused(pair, s, sid)
    pair.settle()  # every oracle of the pair runs: the reset reaches the client as its outcome
    assert s.codec.stats.get("h2_header_list_too_large") == 1
