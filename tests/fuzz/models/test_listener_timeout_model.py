"""fuzz/models/listener_timeout.py: listener filters finish or time out as Envoy's
listener_filters_timeout says, counted in downstream_pre_cx_timeout, and a client's end is not
waited for. Shown on the real proxy and on planted classes: a timer never armed, armed short, the
continue flag inverted, the stat not counted, a timer left armed once the filters finished, a
client's end of stream ignored."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.build import build
from proxy.config import load_bytes
from proxy.network.listener_filter import ListenerFilterStage

TCP = """
listeners:
- name: l
  address: {{host: 127.0.0.1, port: 10000}}
  listener_filters: [{{http_inspector: {{}}}}]
  listener_filters_timeout_ms: 1000
  continue_on_listener_filters_timeout: {continues}
  filter_chains:
  - filters: [{{tcp_proxy: {{cluster: c}}}}]
clusters:
- {{name: c, endpoints: [{{host: 127.0.0.1, port: 9001}}]}}
"""
QUIET = [A("connect"), A("send", 0, payload=b"GE"), A("advance", value=999), A("advance", value=1)]
ENDED = [A("connect"), A("send", 0, payload=b"GE", end_stream=True)]
SPOKE = [A("connect"), A("send", 0, payload=b"GET / HTTP/1.1\r\n\r\n"), A("advance", value=5000)]


def run(actions, continues=False):
    built = build(load_bytes(TCP.format(continues=str(continues).lower()).encode(), "yaml"))
    return Session(built, models=True).run(actions)


def fails(name, actions, continues=False):
    with pytest.raises(InvariantViolation) as caught:
        run(actions, continues)
    assert caught.value.name == name, str(caught.value)
    return caught.value


@pytest.mark.parametrize("continues", [False, True])
def test_a_quiet_client_times_out_at_the_deadline(continues):
    s = run(QUIET, continues)
    info = s.downstream[0].conn.stream_info
    assert s.ctx.stats.counters["listener.l.downstream_pre_cx_timeout"] == 1
    assert info["listener_filters_timeout"]
    assert (info.get("filter_chain") is not None) is continues  # continuing: tcp_proxy took it


def test_a_client_that_speaks_in_time_is_not_timed_out():
    s = run(SPOKE)
    assert s.ctx.stats.counters.get("listener.l.downstream_pre_cx_timeout", 0) == 0


def test_a_timer_never_armed_is_found(monkeypatch):
    original = ListenerFilterStage.__init__

    def unarmed(self, conn, filters, stats, prefix, timeout_ms, continues, done):
        original(self, conn, filters, stats, prefix, 0, continues, done)

    monkeypatch.setattr(ListenerFilterStage, "__init__", unarmed)
    err = fails("listener_filters_outlived_their_timeout", QUIET)
    assert "deadline 1000 ms" in err.detail


def test_a_timer_armed_short_is_found(monkeypatch):
    original = ListenerFilterStage.__init__

    def halved(self, conn, filters, stats, prefix, timeout_ms, continues, done):
        original(self, conn, filters, stats, prefix, timeout_ms // 2, continues, done)

    monkeypatch.setattr(ListenerFilterStage, "__init__", halved)
    fails("listener_filters_timed_out_early", QUIET)


@pytest.mark.parametrize("continues", [False, True])
def test_the_continue_flag_inverted_is_found(monkeypatch, continues):
    original = ListenerFilterStage._on_timeout

    def inverted(self):
        self.continue_on_timeout = not self.continue_on_timeout
        original(self)

    monkeypatch.setattr(ListenerFilterStage, "_on_timeout", inverted)
    fails("listener_filters_timeout_outcome", QUIET, continues)


def test_a_timeout_not_counted_is_found(monkeypatch):
    original = ListenerFilterStage._on_timeout

    def uncounted(self):
        stats, self.stats = self.stats, _Uncounted(self.stats)
        original(self)
        self.stats = stats

    monkeypatch.setattr(ListenerFilterStage, "_on_timeout", uncounted)
    fails("listener_filters_timeout_counted", QUIET)


def test_a_timer_left_armed_after_the_filters_finished_is_found(monkeypatch):
    def end_keeping_the_timer(self):
        if self.finished:
            return
        self.finished = True
        self.stats.gauge_add(self.prefix + "downstream_pre_cx_active", -1)
        self.connection.remove_connection_callbacks(self)

    def timeout_unguarded(self):
        self.stats.inc(self.prefix + "downstream_pre_cx_timeout")
        self.connection.stream_info["listener_filters_timeout"] = True

    monkeypatch.setattr(ListenerFilterStage, "_end", end_keeping_the_timer)
    monkeypatch.setattr(ListenerFilterStage, "_on_timeout", timeout_unguarded)
    fails("listener_filters_timeout_counted", SPOKE)


def test_a_client_that_ends_its_stream_mid_sniff_is_closed_at_once():
    s = run(ENDED)
    assert not s.downstream[0].conn.is_open
    assert s.ctx.stats.counters.get("listener.l.downstream_pre_cx_timeout", 0) == 0


def test_a_client_end_ignored_by_the_listener_filters_is_found(monkeypatch):
    original = ListenerFilterStage.on_wire_read

    def end_ignored(self, conn, data, end_stream):  # the planted class: only the timeout ends the wait
        original(self, conn, data, False)

    monkeypatch.setattr(ListenerFilterStage, "on_wire_read", end_ignored)
    fails("listener_filters_outlived_their_peer", ENDED)


class _Uncounted:
    """Stats that drop the listener timeout's counter (and pass everything else on)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def inc(self, name, n=1):
        if not name.endswith("downstream_pre_cx_timeout"):
            self.inner.inc(name, n)

    def __getattr__(self, name):
        return getattr(self.inner, name)
