"""fuzz/models/timeouts.py, stream idle timeout: a request whose body keeps arriving is not idle, so no
408 comes before stream_idle_timeout_ms of quiet (Envoy's stream_idle_timeout), shown on the real
proxy (a body trickled every 400 ms under a 1 s timeout) and on a planted bug (request bytes not
counted as activity)."""

from fuzz.session import Action as A
from tests.fuzz.test_liveness import fails, http, response, run

IDLE = "stream_idle_timeout_ms: 1000"
HEAD = b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n"
TRICKLE = [A("send", payload=HEAD), A("upstream_connect")]
for byte in b"abcd":
    TRICKLE += [A("advance", value=100), A("advance", value=100), A("advance", value=100), A("advance", value=100)]
    TRICKLE += [A("send", payload=bytes([byte]))]
TRICKLE += [A("upstream_read"), A("upstream_send", payload=response(b"ok")), A("read")]


def test_a_trickled_body_is_activity_and_gets_its_response():
    s = run(http(hcm=IDLE), TRICKLE)
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 200")
    assert "http.downstream_rq_idle_timeout" not in s.ctx.stats.counters


def test_a_quiet_request_still_idles_out_without_a_finding():
    s = run(http(hcm=IDLE), [A("send", payload=HEAD), A("upstream_connect"), A("advance", value=1_000), A("read")])
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 408")


def test_request_bytes_not_counted_as_activity_are_found(monkeypatch):
    from proxy.http.conn_manager import ActiveStream

    monkeypatch.setattr(ActiveStream, "active", lambda self: None)  # the planted bug: nothing resets the timer
    err = fails("model_stream_idle_timeout_early", http(hcm=IDLE), TRICKLE)
    assert "stream_idle_timeout_ms is 1000" in err.detail


def test_a_408_after_a_100_continue_is_timed_by_its_own_head():
    """fuzz run session from an empty corpus (config-s1-0000): a pipelined POST with Expect got its
    100 Continue at 100 ms and its 408 from the 1000 ms stream idle timeout at 1000 ms; the model
    took the 100's time for the 408's and called the timeout early."""
    from pathlib import Path

    from fuzz import session

    seed = (
        Path(__file__).parents[3] / "corpus" / "session" / "regress-408-after-a-100-continue-is-timed-by-its-own-head"
    )
    s = session.run_input(session.ConfigPool.default(), seed.read_bytes())
    [late] = [ex.response for ex in s.peers.exchanges if ex.response is not None and ex.response.status == 408]
    assert late.interim == [100] and late.final_ms == 1000


def test_bytes_after_a_connection_close_request_are_not_its_own():
    """fuzz run session from an empty corpus (-seed=5001, config-s1-0025): bytes a client sent after a
    `Connection: close` request (which its parser never reads as a request) were taken as that
    request's, so its read time moved to when the proxy read them and its 408 looked early."""
    closing = b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab"
    actions = [A("send", payload=closing), A("upstream_connect"), A("upstream_read"), A("advance", value=500)]
    s = run(http(hcm=IDLE), actions + [A("send", payload=b"junk"), A("advance", value=500), A("read")])
    [ex] = s.peers.exchanges
    assert ex.request.read_ms == 0 and ex.response.status == 408 and ex.response.final_ms == 1000


CHUNKED = b"POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"


def _dribbled(*pieces: bytes, read_at: int = 1000) -> list:
    """The chunked head and body at 0 ms, then each piece 400 ms after the last; read at `read_at`."""
    actions = [A("send", payload=CHUNKED), A("upstream_connect")]
    for piece in pieces:
        actions += [A("advance", value=400), A("send", payload=piece)]
    return actions + [A("advance", value=read_at - 400 * len(pieces)), A("read")]


def test_framing_bytes_alone_are_no_stream_activity():
    """A 15-minute session campaign (clean clone at 2022f90, 730 s): a chunked request's trailer line
    arriving a byte at a time got its 408 stream_idle_timeout_ms after its body, and the model took
    the trailer bytes the proxy had read for activity. A chunk-size line or a trailer line not yet
    ended carries no headers, body or trailers (Envoy's codec raises no event for them, so its
    stream idle timer is not reset): the proxy's 408 at 1000 ms is on time."""
    for pieces in ((b"0\r\nx-a: ", b"b"), (b"5\r", b"\n")):
        s = run(http(hcm=IDLE), _dribbled(*pieces))
        [ex] = s.peers.exchanges
        assert ex.response.status == 408 and ex.response.final_ms == 1000
        assert ex.request.read_ms == 0


def test_chunk_data_dribbled_is_still_activity():
    s = run(http(hcm=IDLE), _dribbled(b"5\r\nx", b"y", b"z", read_at=2200))
    [ex] = s.peers.exchanges
    assert ex.request.read_ms == 1200 and ex.response.final_ms == 2200


def test_the_trailer_shape_still_finds_a_timer_never_reset_by_data(monkeypatch):
    from proxy.http.conn_manager import ActiveStream

    monkeypatch.setattr(ActiveStream, "active", lambda self: None)  # the planted bug: nothing resets the timer
    err = fails(
        "model_stream_idle_timeout_early", http(hcm=IDLE), _dribbled(b"1\r\nd", b"\r\n0\r\nx-a: ", b"b", read_at=1200)
    )
    assert "stream_idle_timeout_ms is 1000" in err.detail
