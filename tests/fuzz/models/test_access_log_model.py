"""fuzz.models.access_log: the access log holds the status of every response head a client read."""

import pytest

from fuzz import oracles, session

# A GET whose upstream sends its head and half the body, then nothing: the route timeout (15 s)
# resets the stream after the client read the 200 head.
CUT_AFTER_HEAD = [
    session.Action("connect"),
    session.Action("send", payload=b"GET /cut HTTP/1.1\r\nHost: h\r\n\r\n"),
    session.Action("upstream_connect"),
    session.Action("upstream_read"),
    session.Action("upstream_send", payload=b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"),
    session.Action("read"),
    session.Action("advance", value=30_000),
    session.Action("read"),
]


def _session():
    from tests.fuzz.test_liveness import http

    return session.Session(http(hcm="access_log: {stdout: true}"), models=True)


def test_a_stream_reset_after_its_head_is_logged_with_the_heads_status():
    s = _session()
    s.run(CUT_AFTER_HEAD)
    (ex,) = s.peers.exchanges
    assert ex.response.status == 200 and ex.outcome != "response"
    assert s.models.access_log.statuses == {200: 1}


def test_a_reset_logged_as_status_0_is_caught(monkeypatch):
    # Found black-box: the access log said 0 ("no response was sent") for streams reset after their
    # 200 head reached the client, while http.downstream_rq_200 counted them. Planted again.
    from proxy.http import access_log

    real = access_log.build_record

    def build_record(**fields):
        if fields["end"] == "reset":
            fields["status"] = 0
        return real(**fields)

    monkeypatch.setattr(access_log, "build_record", build_record)
    with pytest.raises(oracles.InvariantViolation, match="model_access_log_status"):
        _session().run(CUT_AFTER_HEAD)


SMUGGLING = [
    session.Action("connect"),
    session.Action(
        "send", payload=b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
    ),
    session.Action("read"),
]


def test_a_request_the_codec_refuses_is_logged():
    s = _session()
    s.run(SMUGGLING)
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 400 ")
    assert s.models.access_log.statuses == {400: 1}


def test_codec_replies_left_out_of_the_access_log_are_caught(monkeypatch):
    # Found black-box: requests the HTTP/1.1 codec refused (CL+TE, bad chunk sizes, HTTP/1.2) left
    # no access log record, where Envoy logs '400 DPE'. Planted again: no record for them.
    from proxy.http.conn_manager import HttpConnectionManager

    monkeypatch.setattr(HttpConnectionManager, "_log_codec_reply", lambda self, ev: None)
    with pytest.raises(oracles.InvariantViolation, match="model_access_log_status"):
        _session().run(SMUGGLING)


BEHIND_A_BALANCER = """
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  listener_filters: [{proxy_protocol: {}}]
  filter_chains:
  - filters:
    - http_connection_manager:
        access_log: {stdout: true}
        route_config:
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
            - match: {prefix: "/"}
              direct_response: {status: 200, body: "hi"}
clusters:
- name: web
  endpoints: [{host: 127.0.0.1, port: 9080}]
"""
# A client behind a PROXY v1 header (connect_tls mode 0b01000000: clear text after the header).
PROXIED_GET = [
    session.Action("connect_tls", value=0, payload=bytes([0b01000000])),
    session.Action("send", payload=b"GET /who HTTP/1.1\r\nHost: h\r\n\r\n"),
    session.Action("read"),
]


def _proxied_session():
    from proxy.build import build
    from proxy.config import load_bytes

    return session.Session(build(load_bytes(BEHIND_A_BALANCER.encode(), "yaml")), models=True)


def test_a_record_names_the_client_of_the_proxy_header():
    s = _proxied_session()
    s.run(PROXIED_GET)
    conn = s.downstream[0].conn
    assert conn.remote_address != conn.direct_remote_address  # the header named another client
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 200 ")
    assert dict(s.models.access_log.clients) == {(str(conn.remote_address[0]), conn.remote_address[1]): 1}


def test_a_record_naming_the_balancer_instead_is_caught(monkeypatch):
    # The bug class: a record that takes the TCP peer (the load balancer) where Envoy's
    # %DOWNSTREAM_REMOTE_ADDRESS% is the PROXY header's client. Planted: every record names the
    # session's first connection's own peer address.
    from proxy.http import access_log

    real = access_log.build_record

    def build_record(**fields):
        return real(**dict(fields, remote_address=("127.0.0.1", 40000)))

    monkeypatch.setattr(access_log, "build_record", build_record)
    with pytest.raises(oracles.InvariantViolation, match="model_access_log_client"):
        _proxied_session().run(PROXIED_GET)
