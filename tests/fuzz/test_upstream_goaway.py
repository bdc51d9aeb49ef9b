"""An HTTP/2 upstream's graceful GOAWAY (session op upstream_goaway) and the response_replaced oracle
(fuzz/delivery.py): the streams up to the GOAWAY's last stream id still complete (RFC 9113 6.8), so a
response the upstream sends on one reaches the client; shown on the real proxy and on a planted bug
(the pool fails the stream the GOAWAY names as the last processed)."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A
from tests.fuzz.test_liveness import GET, http, run

H2_UPSTREAM = "protocol: HTTP2"
GOAWAY_THEN_ANSWER = [
    A("send", payload=GET),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_goaway"),
    A("upstream_http", value=1, payload=b"\x00\x05hello"),
    A("read"),
]


def test_a_stream_named_by_a_graceful_goaway_still_gets_its_response():
    s = run(http(cluster=H2_UPSTREAM), GOAWAY_THEN_ANSWER)
    received = bytes(s.downstream[0].received)
    assert received.startswith(b"HTTP/1.1 200") and received.endswith(b"hello"), received
    assert s.peers.servers[0].goaway_sent == 1


def test_a_pool_that_fails_the_last_stream_of_a_goaway_is_found(monkeypatch):
    from proxy.http.codec import ConnectionClosed
    from proxy.upstream import pool_conn

    original = pool_conn.PoolConnection._dispatch

    def off_by_one(self, ev):  # the planted bug: the stream at last_stream_id is failed with those above it
        if isinstance(ev, ConnectionClosed) and ev.last_stream_id is not None:
            ev = ConnectionClosed(ev.reason, ev.error_code, ev.last_stream_id - 1)
        original(self, ev)

    monkeypatch.setattr(pool_conn.PoolConnection, "_dispatch", off_by_one)
    with pytest.raises(InvariantViolation) as caught:
        run(http(cluster=H2_UPSTREAM), GOAWAY_THEN_ANSWER)
    assert caught.value.name == "response_replaced", str(caught.value)


def test_a_goaway_on_an_http1_upstream_does_nothing():
    s = run(http(), [A("send", payload=GET), A("upstream_connect"), A("upstream_goaway"), A("read")])
    assert not s.peers.servers or getattr(s.peers.servers[0], "goaway_sent", None) is None


def test_a_stream_opened_after_the_upstreams_goaway_is_not_answered_by_it():
    """fuzz run session (6 min, config-s1-0016): an upstream allowing 2 streams answered stream 1, and
    the queued third request went out as stream 5 just before the upstream's GOAWAY (last stream id 3)
    arrived; the proxy failed stream 5 (RFC 9113 6.8: not processed), but the upstream peer answered
    it while settling, and response_replaced called the 503 a replaced response. A GOAWAY's sender
    ignores streams above its last stream id: the peer now does too. The seed was made again after
    64f7327 (each request picks its host): two more clients put the third request on the first host."""
    from pathlib import Path

    from fuzz import session

    seed = (
        Path(__file__).parents[2] / "corpus" / "session" / "regress-a-stream-above-the-upstreams-goaway-is-not-answered"
    )
    s = session.run_input(session.ConfigPool.default(), seed.read_bytes())
    server = s.peers.servers[0]
    assert server.goaway_sent == 3 and 5 in server.unanswered
