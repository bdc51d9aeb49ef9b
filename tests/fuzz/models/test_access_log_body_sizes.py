"""fuzz.models.access_log: the body sizes an access log record carries are the bytes the stream
received and sent (model_access_log_body_size), judged where the peers saw both bodies whole."""

import pytest

from fuzz import oracles, session

BODY = b"x" * 3000  # several of the session's reads: the proxy sees it in pieces
UPLOAD = [
    session.Action("connect"),
    session.Action("send", payload=b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 3000\r\n\r\n" + BODY[:1000]),
    session.Action("upstream_connect"),
    session.Action("upstream_read"),
    session.Action("send", payload=BODY[1000:]),
    session.Action("upstream_read"),
    session.Action("upstream_send", payload=b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsaved"),
    session.Action("read"),
]


def _session():
    from tests.fuzz.test_liveness import http

    return session.Session(http(hcm="access_log: {stdout: true}"), models=True)


def test_a_forwarded_upload_is_logged_with_its_body_sizes():
    s = _session()
    s.run(UPLOAD)
    (ex,) = s.peers.exchanges
    assert ex.response.status == 200 and len(ex.upstreams[0].request.body) == 3000
    sizes = {(k[3], k[4]) for k in s.models.access_log.body_sizes}
    assert sizes == {("request", 3000), ("response", 5)}


@pytest.mark.parametrize("side", ["bytes_in", "bytes_out"])
def test_a_body_size_counted_short_is_caught(monkeypatch, side):
    # The class: a byte counter overwritten per piece instead of added up (the last read's size).
    from proxy.http import access_log

    real = access_log.build_record

    def build_record(**fields):
        fields[side] = min(fields[side], 3)
        return real(**fields)

    monkeypatch.setattr(access_log, "build_record", build_record)
    with pytest.raises(oracles.InvariantViolation, match="model_access_log_body_size"):
        _session().run(UPLOAD)
