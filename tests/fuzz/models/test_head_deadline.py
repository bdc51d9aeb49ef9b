"""fuzz/models/head_deadline.py: a request head that keeps arriving, one byte at a time within the
stream idle timeout of the last (slowloris), is still answered once that timeout ran from its first
byte. Shown on the real proxy and on the planted class (the head timer restarted by every read)."""

from fuzz.session import Action as A
from tests.fuzz.test_liveness import fails, http, run

STREAM_IDLE = "stream_idle_timeout_ms: 1000"
TRICKLE = [A("send", payload=b"GET /slow HTTP/1.1\r\nHost: h\r\nX-Slow: ")]
for _ in range(4):  # 4 x 400 ms: each byte well within the timeout of the last, the head past it
    TRICKLE += [A("advance", value=400), A("send", payload=b"x")]


def test_a_trickled_head_gets_408_a_timeout_after_its_first_byte():
    s = run(http(hcm=STREAM_IDLE), TRICKLE + [A("read")])
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 408 ")
    assert s.ctx.stats.counters["http.downstream_rq_idle_timeout"] == 1


def test_a_head_that_completes_in_time_is_not_judged():
    quick = TRICKLE[:3] + [A("send", payload=b"1\r\n\r\n"), A("advance", value=2000)]
    run(http(hcm=STREAM_IDLE), quick)  # its stream, not its head, is the stream idle timeout's from then on


def test_a_head_timer_restarted_by_every_read_is_found(monkeypatch):
    from proxy.http.conn_manager import HttpConnectionManager

    original = HttpConnectionManager._watch_request_start

    def restarted(self):  # the planted class: each read re-arms the head's timer
        self._head_pending = False
        original(self)

    monkeypatch.setattr(HttpConnectionManager, "_watch_request_start", restarted)
    err = fails("request_head_outlived_its_deadline", http(hcm=STREAM_IDLE), TRICKLE)
    assert "stream_idle_timeout_ms 1000" in err.detail
