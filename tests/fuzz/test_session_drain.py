"""The session's `drain` action (the server's drain, as SIGTERM starts it): a request the proxy already
forwarded upstream still gets its response, over HTTP/1.1 and HTTP/2. A drain that closes connections
with requests in flight (planted by monkeypatch) is caught at the drain."""

import pytest

import proxy.http.conn_manager as conn_manager
from fuzz import oracles, session
from fuzz.session import Action as A, Session
from proxy.network.connection import CloseType

CONFIG = """
listeners:
- name: web
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filters:
    - http_connection_manager:
        codec: %s
        route_config: {virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: app}}]}]}
clusters:
- {name: app, endpoints: [{host: 10.0.0.9, port: 80}]}
"""


# A request forwarded and read upstream, then the drain, then the upstream's answer (templates:
# fuzz/payloads.py, 0 an HTTP/1.1 request, 3 an HTTP/2 one).
def in_flight(kind):
    return [
        A("send_http", value=kind, payload=b"\x01\x00\x00\x05\x00\x00\x00\x00hello"),
        A("upstream_connect"),
        A("upstream_read"),
        A("drain"),
        A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok"),
        A("read"),
    ]


@pytest.fixture(params=[("HTTP1", 0), ("HTTP2", 3)], ids=["HTTP1", "HTTP2"])
def pool(request, tmp_path):
    path = tmp_path / "drain.yaml"
    path.write_text(CONFIG % request.param[0])
    return session.ConfigPool([path]), request.param[1]


def run(pool):
    configs, kind = pool
    return session.run_input(configs, session.encode_actions(in_flight(kind)))


def test_the_request_in_flight_is_answered_through_the_drain(pool):
    s = run(pool)
    assert s.ctx.draining
    assert [ex.outcome for ex in s.peers.exchanges] == ["response"]
    assert s.ctx.stats.counters.get("http.downstream_cx_drain_close") == 1


def test_a_drain_that_closes_busy_connections_is_caught(monkeypatch, pool):
    def go_away(self, stat):  # the planted bug: close at once, streams in flight or not
        self.stats.inc(stat)
        self.codec.goaway()
        self.flush()
        if self.conn.is_open:
            self.conn.close(CloseType.FLUSH_WRITE)

    monkeypatch.setattr(conn_manager.HttpConnectionManager, "_go_away", go_away)
    with pytest.raises(oracles.InvariantViolation, match="drain_closed_request_in_flight"):
        run(pool)


# fuzz (session 150 s on a clean clone, examples/upstream_http2.yaml): the upstream broke before its
# answer, the proxy wrote its 503 and ended the stream, the client had not read it when the drain came.
def answered_not_read(kind):
    return in_flight(kind)[:3] + [A("upstream_close"), A("drain"), A("read")]


def test_an_answer_written_but_not_yet_read_goes_out_with_the_drains_close(pool):
    configs, kind = pool
    s = session.run_input(configs, session.encode_actions(answered_not_read(kind)))
    assert [(ex.outcome, ex.response.status) for ex in s.peers.exchanges] == [("response", 503)]


def test_a_drain_waits_for_a_response_body_held_for_the_clients_window():
    """Found by fuzz run session 120 s (response_lost, examples/http.yaml): an HTTP/2 client with a
    zero window (settings byte 0x1C: it withholds credit while the actions run) had the response
    head and the GOAWAY, and the 48 body bytes waited in the codec for its window; the connection
    manager's stream was done, so the drain closed the connection at once and the body was lost.
    The codec now closes once that output is out (the client opens its window when settling)."""
    s = held_for_the_window_then(A("read"))
    [ex] = s.peers.exchanges
    assert ex.outcome == "response" and bytes(ex.response.body) == b"w" * 48


def held_for_the_window_then(last):
    """An HTTP/2 client withholding its window has a response head and the drain's GOAWAY; the 48-byte
    body waits in the codec for its window; then `last`."""
    from tests.fuzz.test_liveness import http

    return Session(http(limit=1 << 20, codec="AUTO")).run(
        [
            A("connect"),
            A("settings", value=0x1C),
            A("send_http", value=3, payload=bytes([2, 0, 0, 30, 0, 0])),
            A("upstream_connect"),
            A("upstream_read"),
            A("upstream_send", payload=b"HTTP/1.1 200 OK\r\ncontent-length: 48\r\n\r\n" + b"w" * 48),
            A("drain"),
            last,
        ]
    )


def test_a_client_that_never_opens_its_window_after_the_goaway_is_closed_after_the_grace_period():
    """The drain (or idle timeout) waits for output the client's window holds, but not for good:
    a client that takes none of it for 1 s (Envoy's delayed_close_timeout) is closed, where it held
    the connection open forever (found by fuzz run network_filter: idle_connection_not_closed)."""
    s = held_for_the_window_then(A("advance", value=1001))
    assert s.ctx.stats.counters["http.downstream_cx_delayed_close_timeout"] == 1
    assert s.downstream[0].is_closed


def test_a_client_that_opens_its_window_within_the_grace_period_gets_the_body():
    s = held_for_the_window_then(A("advance", value=900))
    [ex] = s.peers.exchanges
    assert ex.outcome == "response" and bytes(ex.response.body) == b"w" * 48
    assert "http.downstream_cx_delayed_close_timeout" not in s.ctx.stats.counters


# fuzz (session 6 minutes on a clean clone, config-s1-0003: max_outbound_frames 3): an HTTP/2 client
# that read nothing holds the proxy's SETTINGS and ACKs; the drain's GOAWAY is one frame more, over
# the configured limit, and the codec ends the connection as an outbound flood (Envoy counts GOAWAY
# in max_outbound_frames too). The flood protection closed it, not the drain.
def test_a_drain_goaway_over_max_outbound_frames_is_the_flood_limit_not_a_finding(tmp_path):
    path = tmp_path / "drain_flood.yaml"
    path.write_text(
        (CONFIG % "HTTP2").replace(
            "        codec: HTTP2\n", "        codec: HTTP2\n        http2_protocol_options: {max_outbound_frames: 3}\n"
        )
    )
    s = session.run_input(
        session.ConfigPool([path]), session.encode_actions([A("settings", value=128)] + in_flight(3)[:4])
    )
    assert s.ctx.stats.counters.get("http.h2_outbound_flood") == 1
    assert [ex.outcome for ex in s.peers.exchanges] != ["response"]
