"""fuzz/models/idle.py: after a session settles, an HTTP connection with no active request is closed by
its idle_timeout_ms (Envoy's HCM idle_timeout), shown on a planted bug (the timer not re-armed after
the last stream ends) and on the real proxy."""

from fuzz.session import Action as A
from tests.fuzz.test_liveness import GET, fails, http, run, response

KEEP_ALIVE = [
    A("send", payload=GET),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=response(b"ok")),
    A("read"),
]


def test_an_idle_keep_alive_connection_is_closed_by_its_idle_timeout():
    s = run(http(hcm="idle_timeout_ms: 1000"), KEEP_ALIVE)
    assert s.ctx.stats.counters["http.downstream_cx_idle_timeout"] == 1


def test_a_connection_without_an_idle_timeout_is_left_alone():
    s = run(http(), KEEP_ALIVE)
    assert "http.downstream_cx_idle_timeout" not in s.ctx.stats.counters


def test_an_idle_timer_not_rearmed_after_the_last_stream_is_found(monkeypatch):
    from proxy.http.conn_manager import HttpConnectionManager

    def stream_ended(self, stream):  # re-armed only while still enabled: never, once a stream disabled it
        if self.streams.get(stream.stream_id) is stream:
            del self.streams[stream.stream_id]
        if not self.streams and self._idle_timer is not None and self._idle_timer.enabled and not self.closed:
            self._idle_timer.enable(self.config.idle_timeout_ms)

    monkeypatch.setattr(HttpConnectionManager, "stream_ended", stream_ended)
    err = fails("idle_connection_not_closed", http(hcm="idle_timeout_ms: 1000"), KEEP_ALIVE)
    assert "idle_timeout_ms is 1000" in err.detail


def test_a_request_a_slow_throttle_lets_through_during_the_look_restarts_the_idle_time():
    """session (clean-clone fuzz run, config-s1-0009): settling leaves a slow fault throttle to its
    pace, so bytes it released while this model ran time on made a request on the connection, whose
    end re-armed the idle timer: not a timer that was never armed again."""
    from pathlib import Path

    from fuzz import session

    seed = (
        Path(__file__).parents[3]
        / "corpus"
        / "session"
        / "regress-request-a-slow-throttle-releases-while-idle-is-judged"
    )
    session.run_input(session.ConfigPool.default(), seed.read_bytes())
