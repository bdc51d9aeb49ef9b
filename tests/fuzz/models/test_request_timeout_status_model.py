"""fuzz.models.timeouts.check_request_timeout_status: a request the proxy read whole gets 504 from
request_timeout_ms, never 408 (RFC 9110 15.5.9: 408 is for a request not received whole in time),
whichever way it ended: by its body or by trailers (model_408_for_a_complete_request)."""

import pytest

from fuzz import oracles, session
from proxy.http import conn_manager
from proxy.http.codec import Trailers

CHUNKED_WITH_TRAILER = (
    b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 5\r\n\r\n"
)
SILENT_UPSTREAM = [
    session.Action("connect"),
    session.Action("send", payload=CHUNKED_WITH_TRAILER),
    session.Action("upstream_connect"),
    session.Action("upstream_read"),
    session.Action("advance", value=1000),
    session.Action("read"),
]


def _session():
    from tests.fuzz.test_liveness import http

    return session.Session(http(hcm="request_timeout_ms: 500"), models=True)


def test_a_complete_request_whose_upstream_is_silent_gets_504():
    s = _session()
    s.run(SILENT_UPSTREAM)
    (ex,) = s.peers.exchanges
    assert ex.request.complete and ex.response.status == 504


def test_a_request_ended_by_trailers_left_incomplete_is_caught(monkeypatch):
    # The class: one of the three ways a request ends (headers, data, trailers) forgotten where the
    # connection manager marks it complete, so the request timeout answers 408.
    real = conn_manager.HttpConnectionManager._dispatch

    def dispatch(self, ev):
        stream = self.streams.get(ev.stream_id) if isinstance(ev, Trailers) else None
        real(self, ev)
        if stream is not None:
            stream.request_complete = False

    monkeypatch.setattr(conn_manager.HttpConnectionManager, "_dispatch", dispatch)
    with pytest.raises(oracles.InvariantViolation, match="model_408_for_a_complete_request"):
        _session().run(SILENT_UPSTREAM)


def test_an_incomplete_request_may_get_408():
    s = _session()
    s.run(
        [
            session.Action("connect"),
            session.Action("send", payload=CHUNKED_WITH_TRAILER[:70]),
            session.Action("upstream_connect"),
            session.Action("advance", value=1000),
            session.Action("read"),
        ]
    )
    (ex,) = s.peers.exchanges
    assert not ex.request.complete and ex.response.status == 408
