"""Byte conservation through tcp_proxy when the client's side ends first (fuzz/session.py
_closed_after_a_clean_end): a client that sent its end of stream and read the upstream's whole answer
has a connection that closes by itself, cleanly; the upstream, reading late, must still get every
byte the client sent. A tcp_proxy planted to take that clean close for an abort (closing the
upstream NoFlush) is caught; the clean tree passes."""

import pytest

from fuzz import oracles
from fuzz.session import Action, ConfigPool, Session
from proxy.network.connection import CloseType, ConnectionEvent
from proxy.network.filters import tcp_proxy

UPLOAD = b"c" * 3000


@pytest.fixture(scope="module")
def tcp():
    return ConfigPool(["examples/tcp_proxy.yaml"]).built[0]


def client_ends_first_script():
    """The client sends and half-closes before the upstream reads; the upstream answers and ends its
    side; the client reads it all (its connection closes); then the upstream reads."""
    return [
        Action("connect"),
        Action("upstream_connect"),
        Action("send", payload=UPLOAD, end_stream=True),
        Action("upstream_send", payload=b"done", end_stream=True),
        Action("read"),
        Action("upstream_read"),
    ]


def test_the_upstream_reading_late_gets_the_whole_upload(tcp):
    s = Session(tcp).run(client_ends_first_script())
    upstream = s.network.opened[0].io
    assert bytes(upstream.received) == UPLOAD and upstream.peer_saw_end


def test_a_clean_local_close_taken_for_an_abort_is_caught(tcp, monkeypatch):
    original = tcp_proxy.TcpProxyFilter._on_downstream_event

    def abortive(self, event):  # the planted bug: the downstream's own close resets the upstream
        if event is ConnectionEvent.LOCAL_CLOSE and self.upstream is not None and self.upstream.connected:
            self.upstream.close(CloseType.NO_FLUSH)
            return
        original(self, event)

    monkeypatch.setattr(tcp_proxy.TcpProxyFilter, "_on_downstream_event", abortive)
    with pytest.raises(oracles.InvariantViolation, match="bytes_lost"):
        Session(tcp).run(client_ends_first_script())


def test_bytes_a_throttle_still_holds_when_both_halves_end_are_not_claimed():
    """fault's throttle holds what exceeds its budget in the connection's read buffer. When the client
    has ended and the upstream's end has been flushed to it, the connection closes with those bytes
    unread, as Envoy's does once both sides are half-closed: they never reached tcp_proxy, so the
    upstream getting only the released part is no loss (found by a seedless network_filter run)."""
    throttled = ConfigPool(["examples/fault_delay.yaml"]).built[0]  # 2 s delay, then 64 KiB/s
    upload = b"t" * 200_000
    s = Session(throttled).run(
        [
            Action("connect"),
            Action("advance", value=2100),
            Action("upstream_connect"),
            Action("send", payload=upload, end_stream=True),
            Action("advance", value=100),
            Action("upstream_send", payload=b"done", end_stream=True),
            Action("read"),
            Action("upstream_read"),
        ]
    )
    upstream = s.network.opened[0].io
    assert bytes(upstream.received) == upload[:65536] and not upstream.peer_saw_end
