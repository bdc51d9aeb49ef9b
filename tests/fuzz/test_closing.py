"""fuzz/closing.py: a downstream HTTP connection the proxy closes ends within Envoy's delayed close
timeout when its client reads nothing. Real sessions; the planted bug takes the proxy's bound away."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.network.connection import Connection
from tests.fuzz.test_liveness import http

# A request the HTTP/1.1 codec refuses: 400 and a FLUSH_WRITE close, which the client never reads.
REFUSED = [A("connect"), A("send", payload=b"GET /a\\b HTTP/1.1\r\nHost: h\r\n\r\n")]


@pytest.mark.parametrize(("advance", "timed_out"), [(500, 0), (1500, 1)])
def test_a_closing_connection_ends_without_its_client_reading(advance, timed_out):
    """Before the bound the client (settling) reads the 400 and the close; after it the proxy closed."""
    s = Session(http(limit=1 << 20, codec="AUTO")).run(REFUSED + [A("advance", value=advance)])
    assert s.ctx.stats.counter("http.downstream_cx_delayed_close_timeout") == timed_out


def test_planted_unbounded_flush_is_caught(monkeypatch):
    monkeypatch.setattr(Connection, "set_delayed_close_timeout", lambda self, ms: None)
    with pytest.raises(InvariantViolation, match="closing_connection_held"):
        Session(http(limit=1 << 20, codec="AUTO")).run(REFUSED + [A("advance", value=1500)])


# A response to a `Connection: close` request the client then reads 16 KiB every 200 ms: each read
# restarts the delayed close timeout, so the whole body arrives (about 5 s after the close began).
SLOW_READER = [
    A("connect"),
    A("send", payload=b"GET /big HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nContent-Length: 409600\r\n\r\n" + b"x" * 409600),
] + [A("read", value=16384), A("advance", value=200)] * 30


def test_a_client_reading_slowly_gets_the_whole_closing_response():
    s = Session(http(limit=1 << 20, codec="AUTO")).run(SLOW_READER)
    assert s.ctx.stats.counter("http.downstream_cx_delayed_close_timeout") == 0
    assert len(s.downstream[0].received) > 409600


def test_planted_grace_period_never_restarted_is_caught(monkeypatch):
    # The bug class (PLANT_L round 6, connection-delayed-close-not-restarted-on-progress): the period
    # runs from the close whatever the client takes, and a slow download is cut after 1 s.
    real = Connection.take_output

    def progress_unseen(self, max_bytes=None):
        timer, self._delayed_close_timer = self._delayed_close_timer, None  # nothing to restart
        try:
            return real(self, max_bytes)
        finally:
            self._delayed_close_timer = timer

    monkeypatch.setattr(Connection, "take_output", progress_unseen)
    with pytest.raises(InvariantViolation, match="delayed_close_cut_a_reading_client"):
        Session(http(limit=1 << 20, codec="AUTO")).run(SLOW_READER)
