"""fuzz/closing.py: a downstream HTTP connection the proxy closes ends within Envoy's delayed close
timeout when its client reads nothing. Real sessions; the planted bug takes the proxy's bound away."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.http.conn_manager import HttpConnectionManager
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


# A complete request waiting for its upstream's answer when its client goes away: closing its
# connection (FIN) or resetting it. HTTP/1.1 and HTTP/2 (send_http's value picks a GET template the
# connection's client sends whole).
TEMPLATE = {"HTTP1": 0, "HTTP2": 3}


def gone(how: str, codec: str) -> list:
    return [A("connect"), A("send_http", value=TEMPLATE[codec]), A("upstream_connect"), A("upstream_read"), A(how)]


@pytest.mark.parametrize("codec", sorted(TEMPLATE))
@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_connection_that_closed_leaves_no_stream_behind(how, codec):
    s = Session(http(limit=1 << 20, codec=codec)).run(gone(how, codec))
    assert s.ctx.stats.counter("http.downstream_rq_total") == 1
    assert s.ctx.stats.counter("http.downstream_rq_reset") == 1


@pytest.mark.parametrize("codec", sorted(TEMPLATE))
@pytest.mark.parametrize("how", ["close", "reset"])
def test_planted_complete_requests_spared_by_the_close_are_caught(monkeypatch, how, codec):
    # The bug class (PLANT_H round 10, hcm-client-close-spares-complete-requests): the close ends only
    # the streams whose request was still arriving; the others keep their upstream request.
    real = HttpConnectionManager.on_event

    def spare_complete_requests(self, event):
        kept = {sid: st for sid, st in self.streams.items() if st.request_complete}
        for stream in kept.values():
            stream.ended = True  # hidden from the close...
        try:
            real(self, event)
        finally:
            for stream in kept.values():
                stream.ended = False  # ...and live on

    monkeypatch.setattr(HttpConnectionManager, "on_event", spare_complete_requests)
    with pytest.raises(InvariantViolation, match="stream_outlives_its_connection"):
        Session(http(limit=1 << 20, codec=codec)).run(gone(how, codec))
