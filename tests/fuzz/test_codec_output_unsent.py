"""fuzz/liveness.py codec_output_unsent: what a codec made ready to send is written at the end of the
event that made it. An HTTP/2 upstream's SETTINGS want an ACK, a paused stream's resume a
WINDOW_UPDATE: left in the codec, nothing will ever write them (the upstream waits for them)."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.upstream.pool_conn import PoolConnection
from tests.fuzz.test_liveness import http

GET = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
H2_UPSTREAM = [
    A("connect"),
    A("send", payload=GET),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_http", value=1),  # the HTTP/2 template: the upstream's SETTINGS, then its answer
    A("read"),
]


def test_an_http2_upstream_exchange_leaves_nothing_in_the_codecs():
    s = Session(http(limit=1 << 20, cluster="protocol: HTTP2")).run(H2_UPSTREAM)
    assert [ex.outcome for ex in s.peers.exchanges] == ["response"]


def test_planted_read_path_that_never_writes_is_caught(monkeypatch):
    # The bug class (PLANT_H round 10, pool-h2-resumed-stream-window-update-unsent): frames a codec
    # produced while handling an event (there the credit of a resumed stream) are never written.
    real = PoolConnection.on_bytes

    def never_writes(self, data, end_stream):
        self.flush = lambda: None
        try:
            real(self, data, end_stream)
        finally:
            del self.flush

    monkeypatch.setattr(PoolConnection, "on_bytes", never_writes)
    with pytest.raises(InvariantViolation, match="codec_output_unsent"):
        Session(http(limit=1 << 20, cluster="protocol: HTTP2")).run(H2_UPSTREAM)
