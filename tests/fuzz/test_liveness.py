"""Liveness at quiescence (fuzz/settle.py, fuzz/liveness.py) and memory held (fuzz/held.py).

Each oracle is shown failing on a planted bug (monkeypatch) in a session built from actions, and
passing on the same session against the real proxy.
"""

import pytest

from fuzz import flow_control, held, liveness, settle
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.build import build
from proxy.config import load_bytes

GET = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"


def http(limit=1024, codec="HTTP1", cluster="", hcm="", route="", filters=""):
    """A listener whose HTTP connection manager routes every request to cluster `web`."""
    return build(load_bytes(http_text(limit, codec, cluster, hcm, route, filters).encode(), "yaml"))


def http_text(limit=1024, codec="HTTP1", cluster="", hcm="", route="", filters=""):
    """The YAML of `http`'s configuration."""
    return f"""
listeners:
- name: l
  address: {{host: 127.0.0.1, port: 10000}}
  per_connection_buffer_limit_bytes: {limit}
  filter_chains:
  - filters:
    - http_connection_manager:
        codec: {codec}
        {hcm}
        {filters}
        route_config:
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
            - match: {{prefix: "/"}}
              route: {{cluster: web {route}}}
clusters:
- name: web
  endpoints: [{{host: 127.0.0.1, port: 9080}}]
  {cluster}
"""


def run(built, actions):
    return Session(built).run([A("connect")] + actions)


def fails(name, built, actions):
    with pytest.raises(InvariantViolation) as caught:
        run(built, actions)
    assert caught.value.name == name, str(caught.value)
    return caught.value


def response(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


# -- issue 13 defect 9: a pooled HTTP/1.1 connection left read-disabled ------------------------------
# The last upstream read both completes the response (the exchange closes) and pushes the slow
# client's write buffer over its high watermark: the router pauses an upstream stream that is
# already closed, and nothing ever resumes it.
DEFECT_9 = [
    A("send", payload=GET),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=response(b"x" * 4000)),
    A("read"),
]


def _read_disable_without_closed_check(self, disable):
    if disable:
        self._disabled += 1
        if self._disabled == 1 and self.pc.protocol == "http1":
            self.pc.conn.read_disable(True)
        return
    if self._disabled:
        self._disabled -= 1
        if not self._disabled and self.pc.protocol == "http1":
            self.pc.conn.read_disable(False)


def test_a_pooled_connection_returned_read_disabled_is_a_stall_issue_13_defect_9(monkeypatch):
    from proxy.upstream import pool_conn

    monkeypatch.setattr(pool_conn.UpstreamStream, "read_disable", _read_disable_without_closed_check)
    err = fails("stall_read_disabled_idle_pool_connection", http(), DEFECT_9)
    assert "idle in its pool" in err.detail


def test_the_defect_9_session_passes_on_the_proxy():
    s = run(http(), DEFECT_9)
    assert s.ctx.stats.counters["http.downstream_rq_200"] == 1


# -- flow control that is never released ---------------------------------------------------------------
SLOW_CLIENT = [
    A("send", payload=GET),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nContent-Length: 12000\r\n\r\n" + b"a" * 4000),
    A("upstream_send", payload=b"b" * 4000),
    A("read", value=100),
    A("upstream_send", payload=b"c" * 4000),
]


def test_a_router_that_never_releases_its_upstream_pause_is_a_stall(monkeypatch):
    from proxy.http.filters.router import Router

    monkeypatch.setattr(Router, "on_downstream_below_write_watermark", lambda self: None)
    err = fails("stall_read_disabled_upstream", http(), SLOW_CLIENT)
    assert "bytes from the peer wait" in err.detail


def test_a_slow_client_session_passes_on_the_proxy():
    s = run(http(), SLOW_CLIENT)
    assert bytes(s.downstream[0].received).endswith(b"c" * 4000)


def tcp_proxy(filters="", limit=1024):
    """A listener with `limit` buffers: `filters` (flow-style YAML items, each ending in ", "), then tcp_proxy."""
    return build(
        load_bytes(
            f"""
listeners:
- name: l
  address: {{host: 127.0.0.1, port: 10000}}
  per_connection_buffer_limit_bytes: {limit}
  filter_chains:
  - filters: [{filters}{{tcp_proxy: {{cluster: c}}}}]
clusters:
- {{name: c, endpoints: [{{host: 127.0.0.1, port: 9000}}], per_connection_buffer_limit_bytes: {limit}}}
""".encode(),
            "yaml",
        )
    )


def test_a_tcp_proxy_that_forgets_to_resume_reading_is_a_stall(monkeypatch):
    from proxy.network.filters.tcp_proxy import TcpProxyFilter

    monkeypatch.setattr(TcpProxyFilter, "_resume_reading", lambda self, of_downstream: None)
    fails(
        "stall_read_disabled_tcp_proxy",
        tcp_proxy(),
        [A("upstream_connect"), A("upstream_send", payload=b"u" * 4096), A("upstream_send", payload=b"v" * 4096)],
    )


def _close_other_side_unless_one_direction_ended(conn, clean):
    # The bug class (PLANT round 12): a side with one direction ended is taken for one closing itself.
    from proxy.network.connection import CloseType, State

    if conn.state is State.CLOSED or clean and (conn.read_end_stream or conn.write_end_stream):
        return
    conn.close(CloseType.FLUSH_WRITE if clean else CloseType.NO_FLUSH)


UPSTREAM_ENDS_THEN_RESETS = [A("send", payload=b"hi"), A("upstream_connect"), A("upstream_read")] + [
    A("upstream_send", payload=b"bye"),
    A("upstream_close"),
    A("send", payload=b"more"),
    A("upstream_reset"),
    A("read"),
]
CLIENT_ENDS_THEN_RESETS = [A("send", payload=b"hi"), A("upstream_connect"), A("upstream_read")] + [
    A("close"),
    A("upstream_read"),
    A("reset"),
]


@pytest.mark.parametrize("actions", [UPSTREAM_ENDS_THEN_RESETS, CLIENT_ENDS_THEN_RESETS], ids=["upstream", "client"])
def test_a_tcp_proxy_side_left_open_after_its_partner_closed_is_a_stall(monkeypatch, actions):
    from proxy.network.filters import tcp_proxy as module

    monkeypatch.setattr(
        module.TcpProxyFilter, "_close_other_side", staticmethod(_close_other_side_unless_one_direction_ended)
    )
    fails("stall_tcp_proxy_partner_closed", tcp_proxy(), actions)


@pytest.mark.parametrize("actions", [UPSTREAM_ENDS_THEN_RESETS, CLIENT_ENDS_THEN_RESETS], ids=["upstream", "client"])
def test_a_tcp_proxy_side_whose_partner_closed_passes_on_the_proxy(actions):
    run(tcp_proxy(), actions)  # settled and judged: the other side was closed too


THROTTLE = "{fault: {throttle_bytes_per_sec: 1000}}, "
FOUR_KB_FROM_UPSTREAM = (
    [A("send", payload=b"q"), A("upstream_connect"), A("upstream_read")]
    + [A("upstream_send", payload=b"r" * 1000)] * 4
    + [A("read")]
)


def test_upstream_bytes_the_fault_throttle_holds_for_the_client_are_a_wait_not_a_stall():
    """fuzz (network_filter, 120 s): the throttle holds the upstream's 4 KB for a 1000 B/s client and
    its held bytes pause the upstream (tcp_proxy, write watermarks). The upstream is read-disabled
    with no timer of its own: the throttle's timer, on the client's connection, resumes it."""
    s = run(tcp_proxy(THROTTLE), FOUR_KB_FROM_UPSTREAM + [A("advance", value=1000), A("read")])
    # Still paused when the actions end (2,000 bytes read): settling runs the throttle's timer until
    # bytes move (stall_filter_timer_without_progress), one window more, and judges no stall.
    assert len(s.downstream[0].received) == 3000
    s = run(tcp_proxy(THROTTLE), FOUR_KB_FROM_UPSTREAM + [A("advance", value=4000), A("read")])
    assert len(s.downstream[0].received) == 4000 and s.network.opened[0].read_disable_count == 0


def test_a_throttle_that_never_resumes_the_upstream_it_paused_is_a_stall(monkeypatch):
    from proxy.buffer import WatermarkBuffer
    from proxy.network.filters.fault import FaultFilter

    def throttle_writes_without_low_watermark(self, connection):  # the planted bug
        self._held_out = WatermarkBuffer(connection._on_write_buffer_high, lambda: None, connection.buffer_limit)
        connection.add_write_filter(self)

    monkeypatch.setattr(FaultFilter, "throttle_writes", throttle_writes_without_low_watermark)
    client_keeps_up = [A("advance", value=1000), A("read")] * 4  # its own write buffer never fills
    fails("stall_read_disabled_tcp_proxy", tcp_proxy(THROTTLE), FOUR_KB_FROM_UPSTREAM + client_keeps_up)


def throttled_http(rate: int):
    """A listener whose network fault filter throttles both directions at `rate` bytes a second in
    front of an HTTP connection manager that answers every request itself (200 'hello')."""
    text = f"""
listeners:
- name: l
  address: {{host: 127.0.0.1, port: 10000}}
  filter_chains:
  - filters:
    - fault: {{throttle_bytes_per_sec: {rate}}}
    - http_connection_manager:
        route_config:
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
            - match: {{prefix: "/"}}
              direct_response: {{status: 200, body: hello}}
"""
    return build(load_bytes(text.encode(), "yaml"))


# The request (26 bytes) is through the 10 B/s throttle in 3 s; its answer (~75 bytes) takes 8 s more.
ANSWER_HALF_THROTTLED = [A("send", payload=GET)] + [A("advance", value=1000)] * 6 + [A("read")]


def test_an_answer_the_write_throttle_still_holds_is_an_outcome_on_its_way():
    """session (clean-clone .ci/run, config-s1-0023: a 1 B/s fault throttle in front of an HCM): the
    client had half its 404 when settling began and the proxy no stream left for it; the rest sat in
    the throttle, released on its timer. Settling leaves a throttle's slow release to it."""
    s = run(throttled_http(10), ANSWER_HALF_THROTTLED)
    assert s.downstream[0].received.startswith(b"HTTP/1.1 200") and not s.downstream[0].received.endswith(b"hello")
    s = run(throttled_http(10), ANSWER_HALF_THROTTLED + [A("advance", value=1000), A("read")] * 12)
    assert s.downstream[0].received.endswith(b"hello")  # all of it, given the time


def test_an_answer_a_write_filter_holds_with_no_timer_is_a_request_without_outcome(monkeypatch):
    from proxy.network.filters.fault import FaultFilter

    def release_only_within_the_window(self):  # the planted bug: the next window's timer is never armed
        if self._out.refresh(self.ctx.dispatcher.now_ms()) > 0:
            self._out_release_queued = True
            self.ctx.dispatcher.post(self._release_writes)

    monkeypatch.setattr(FaultFilter, "_queue_write_release", release_only_within_the_window)
    err = fails(
        "stall_request_without_outcome",
        throttled_http(10),
        ANSWER_HALF_THROTTLED,
    )
    assert "no timer will release them" in err.detail


# -- requests that wait for nothing -------------------------------------------------------------------
def test_a_pool_that_forgets_a_queued_request_is_a_stall(monkeypatch):
    from proxy.upstream.pool import ClusterHttpPool

    monkeypatch.setattr(ClusterHttpPool, "on_connection_ready", lambda self, pc: None)
    fails("stall_pool_queue", http(), [A("send", payload=GET), A("upstream_connect")])


# Raw requests on two connections carry the id the strict peers link upstream requests by (fuzz/peers).
QUEUED = [
    A("send", payload=b"POST / HTTP/1.1\r\nHost: h\r\nX-Fuzz-Id: a\r\nContent-Length: 10\r\n\r\nabc"),
    A("upstream_connect"),
    A("connect"),
    A("send", 1, payload=b"GET / HTTP/1.1\r\nHost: h\r\nX-Fuzz-Id: b\r\n\r\n"),
]


def test_a_route_timeout_that_is_never_armed_is_a_stall(monkeypatch):
    # One connection allowed: the second request queues behind the first, whose client never
    # finishes its body. Only the route timeout can end the queued request.
    from proxy.http.filters.router import Router

    monkeypatch.setattr(Router, "_start_timeout", lambda self: None)
    fails("stall_route_timeout", http(cluster="max_connections: 1"), QUEUED)


def test_a_request_queued_behind_an_unfinished_one_gets_its_504():
    s = run(http(cluster="max_connections: 1"), QUEUED)
    assert s.ctx.stats.counters["cluster.web.upstream_rq_timeout"] == 1
    assert bytes(s.downstream[1].received).startswith(b"HTTP/1.1 504")


def test_a_request_timeout_that_is_never_armed_is_a_stall(monkeypatch):
    from proxy.http.conn_manager import ActiveStream

    monkeypatch.setattr(ActiveStream, "arm_request_timeout", lambda self, ms: None)
    fails(
        "stall_request_timeout",
        http(hcm="request_timeout_ms: 2000"),
        [A("send", payload=b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc"), A("upstream_connect")],
    )


def test_a_fault_delay_that_never_resumes_is_a_stall_in_the_filter_chain(monkeypatch):
    from proxy.http.filters.fault import HttpFaultFilter

    monkeypatch.setattr(HttpFaultFilter, "_delay_over", lambda self: None)
    err = fails(
        "stall_filter_chain",
        http(filters="http_filters: [{fault: {delay_ms: 500}}]"),
        [A("send", payload=GET), A("upstream_connect")],
    )
    assert "HttpFaultFilter" in err.detail


def test_a_response_the_proxy_never_writes_leaves_the_client_without_outcome(monkeypatch):
    # The stream ends as answered but the codec drops the response: only the client's own record
    # (fuzz/peers) can tell.
    from proxy.http.h1 import H1ServerCodec

    monkeypatch.setattr(H1ServerCodec, "send_headers", lambda self, *args, **kwargs: None)
    monkeypatch.setattr(H1ServerCodec, "send_data", lambda self, *args, **kwargs: None)
    err = fails(
        "stall_request_without_outcome",
        http(),
        [
            A("send", payload=GET),
            A("upstream_connect"),
            A("upstream_read"),
            A("upstream_send", payload=response(b"ok")),
        ],
    )
    assert "saw no outcome" in err.detail


# -- HTTP/2 flow-control accounting --------------------------------------------------------------------
H2_POST = [A("send_http", value=3, payload=bytes([1, 0, 0, 30, 0, 0]) + b"b" * 40), A("upstream_connect")]


def _consume_without_credit(self, stream_id, n):
    """The planted bug: the owner's consumption is noted, the window never reopened (no WINDOW_UPDATE)."""
    st = self._live(stream_id)
    if st is not None:
        st.unconsumed -= n
        self._maybe_forget(stream_id)


def test_an_h2_codec_that_never_credits_consumed_bytes_is_found(monkeypatch):
    from proxy.http import h2 as h2codec

    monkeypatch.setattr(h2codec._H2Codec, "consume", _consume_without_credit)
    err = fails("h2_window_not_credited", http(codec="HTTP2"), H2_POST)
    assert "never acknowledged" in err.detail


def test_a_connection_manager_that_never_consumes_request_body_is_found(monkeypatch):
    from proxy.http.conn_manager import ActiveStream

    monkeypatch.setattr(ActiveStream, "consume", lambda self: None)
    monkeypatch.setattr(ActiveStream, "_end", _end_without_consume(ActiveStream._end))
    fails(
        "h2_window_not_credited",
        http(codec="HTTP2"),
        [A("send_http", value=3, payload=bytes([1, 0, 0, 30, 0, 0]) + b"b" * 40)],
    )


def _end_without_consume(original):
    def end(self, kind):
        self.unconsumed = 0
        return original(self, kind)

    return end


def test_h2_sessions_pass_on_the_proxy():
    s = run(http(codec="HTTP2"), H2_POST + [A("upstream_read"), A("read")])
    assert s.ctx.stats.counters["http.downstream_rs_total"] == 1


def test_window_accounting_of_a_codec_pair_catches_a_missing_acknowledgement(monkeypatch):
    from proxy.http.codec_select import create_client_codec, create_server_codec

    client, server = create_client_codec("HTTP2"), create_server_codec("HTTP2")
    server.receive_data(client.data_to_send())
    sid = client.send_request_headers(b"POST", b"/", b"h", [], end_stream=False)
    client.send_data(sid, b"z" * 1000, end_stream=True)
    server.receive_data(client.data_to_send())
    flow_control.check_h2_windows("server", server)  # delivered, not yet consumed: owed to the owner
    with pytest.raises(InvariantViolation, match="h2_window_not_credited"):
        flow_control.check_h2_windows("server", server, consumed_all=True)
    server._streams[sid].unconsumed = 0  # the planted bug: consumed without telling h2
    with pytest.raises(InvariantViolation, match="h2_window_not_credited"):
        flow_control.check_h2_windows("server", server)


# -- memory held ------------------------------------------------------------------------------------
BIG_RESPONSE = [
    A("send", payload=GET),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nContent-Length: 400000\r\n\r\n"),
] + [A("upstream_send", payload=bytes([97 + i % 26]) * 4000) for i in range(100)]


def test_a_router_that_ignores_a_slow_client_holds_memory_beyond_the_limit(monkeypatch):
    from proxy.http.filters.router import Router

    monkeypatch.setattr(Router, "on_downstream_above_write_watermark", lambda self: None)
    err = fails("memory_held_over_limit_connection", http(), BIG_RESPONSE)
    assert "limit is 1024" in err.detail


def test_a_slow_client_costs_the_proxy_no_more_than_its_limit():
    run(http(), BIG_RESPONSE)


# Two pipelined requests on two upstream connections; /b's response comes first, half of its 10 KB body.
PIPELINED_B_FIRST = [
    A("send", payload=b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"),
    A("upstream_connect"),
    A("upstream_connect"),
    A("upstream_read", 0),
    A("upstream_read", 1),
    A("upstream_send", 1, payload=b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n" + b"b" * 5000),
]


def test_a_pipelined_response_queued_behind_an_earlier_one_counts_as_held(monkeypatch):
    """fuzz (session, 120 s on a clean clone): the HTTP/1.1 codec's queued operations became objects
    (proxy/http/_h1_state.py) and this count still read them as tuples (a TypeError in the oracle)."""
    seen = []
    original = held.stream_held
    monkeypatch.setattr(held, "stream_held", lambda stream, codec: seen.append(original(stream, codec)) or seen[-1])
    run(http(limit=1 << 20), PIPELINED_B_FIRST)
    assert max(parts["pipelined response"] for parts in seen) == 5000


# /b's upstream sends 400 KB while /a's response has not come: /b's response waits in the codec's queue.
PIPELINED_B_BIG = (
    PIPELINED_B_FIRST[:-1]
    + [A("upstream_send", 1, payload=b"HTTP/1.1 200 OK\r\nContent-Length: 400000\r\n\r\n")]
    + [A("upstream_send", 1, payload=b"b" * 4000)] * 100
)


def test_a_pipelined_response_queued_without_bound_is_memory_held(monkeypatch):
    run(http(), PIPELINED_B_BIG)  # the proxy pauses /b's upstream once its queued bytes pass the limit
    from proxy.http.h1 import H1ServerCodec

    monkeypatch.setattr(H1ServerCodec, "buffered_outbound", lambda self, stream_id: 0)  # the planted bug
    err = fails("memory_held_over_limit_stream", http(), PIPELINED_B_BIG)
    assert "pipelined response" in err.detail


def raw_h2_request(method: str, body: bytes = b"", settings=None) -> bytes:
    """A client's first bytes (preface, SETTINGS, one request), made by h2 and sent raw: no strict
    peer follows the connection, so nobody credits what the proxy sends back."""
    import h2.config
    import h2.connection

    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    if settings:
        client.update_settings(settings)
    client.send_headers(
        1, [(":method", method), (":path", "/"), (":scheme", "http"), (":authority", "h")], end_stream=not body
    )
    if body:
        client.send_data(1, body, end_stream=True)
    return client.data_to_send()


# The client's INITIAL_WINDOW_SIZE is 0 and it never opens the stream's window: the response waits.
H2_SHUT_WINDOW = [
    A("send", payload=raw_h2_request("GET", settings={4: 0})),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=b"HTTP/1.1 200 OK\r\nContent-Length: 400000\r\n\r\n"),
] + [
    A(op, payload=b"d" * 4000 if op == "upstream_send" else b"") for _ in range(100) for op in ("upstream_send", "read")
]


def test_a_stalled_h2_stream_buffering_upstream_body_without_bound_is_found(monkeypatch):
    # issue 13 defect 3's class: the client reads its connection but never opens the stream's window;
    # the connection manager never reports it slow, so the router keeps reading the upstream into
    # the stream's HTTP/2 send buffer.
    from proxy.http.conn_manager import HttpConnectionManager

    monkeypatch.setattr(HttpConnectionManager, "check_slow_client", lambda self, stream: None)
    err = fails("memory_held_over_limit_connection", http(codec="HTTP2"), H2_SHUT_WINDOW)
    assert "for the client's windows" in err.detail


def test_a_router_that_ignores_its_buffer_limit_holds_the_request_body(monkeypatch):
    # No upstream connects: the body waits in the router, whose limit pauses the client's reads.
    from proxy.http.filters.router import Router

    monkeypatch.setattr(Router, "_pause_if_buffer_full", lambda self: None)
    post = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 400000\r\n\r\n"
    err = fails(
        "memory_held_over_limit_stream",
        http(),
        [A("send", payload=post + b"p" * 4000)] + [A("send", payload=b"p" * 4000) for _ in range(60)],
    )
    assert "request in router" in err.detail


def _stalled_streams(n: int, body: int) -> list:
    """A raw HTTP/2 client opens n GETs with its windows shut; n HTTP/1.1 upstreams each send a long body."""
    import h2.config
    import h2.connection

    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    client.update_settings({4: 0})
    for i in range(n):
        client.send_headers(
            1 + 2 * i, [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "h")], end_stream=True
        )
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % body
    return (
        [A("send", payload=client.data_to_send())]
        + [A("upstream_connect") for _ in range(n)]
        + [a for i in range(n) for a in (A("upstream_read", i), A("upstream_send", i, payload=head + b"s" * body))]
    )


def test_stalled_h2_streams_hold_about_one_limit_together():
    run(http(codec="HTTP2", limit=65536), _stalled_streams(10, 80_000))


def test_stalled_h2_streams_each_holding_a_limit_is_found_issue_13_defect_3(monkeypatch):
    # The connection manager pauses a stream for its own bytes only (before the fix of defect 3):
    # ten stalled streams hold ten limits.
    from proxy.http.conn_manager import HttpConnectionManager

    def per_stream_only(self, stream):
        if not stream.slow_client and self._buffered_outbound(stream.stream_id) > stream.buffer_limit:
            stream.slow_client = "stream"
            self._slow_streams = True
            stream.chain.on_downstream_watermark(True)

    monkeypatch.setattr(HttpConnectionManager, "check_slow_client", per_stream_only)
    err = fails("memory_held_over_limit_connection", http(codec="HTTP2", limit=65536), _stalled_streams(10, 80_000))
    assert "for the client's windows" in err.detail


def test_a_stream_whose_client_shuts_its_window_holds_about_its_limit():
    s = run(http(codec="HTTP2"), H2_SHUT_WINDOW)
    assert s.ctx.stats.counters["http.downstream_rq_total"] == 1


# -- settling itself --------------------------------------------------------------------------------
def test_a_delay_that_re_arms_itself_forever_is_found_past_every_timeout(monkeypatch):
    from proxy.http.filters.fault import HttpFaultFilter

    def forever(self):  # the delay re-arms itself instead of letting the request go on
        self._timer.enable(self.config.delay_ms)

    monkeypatch.setattr(HttpFaultFilter, "_delay_over", forever)
    err = fails(
        "stall_filter_chain",
        http(filters="http_filters: [{fault: {delay_ms: 500}}]", hcm="stream_idle_timeout_ms: 0"),
        [A("send", payload=GET), A("upstream_connect")],
    )
    assert "keeps being re-armed" in err.detail


def test_a_delay_that_re_arms_itself_forever_ends_at_the_stream_idle_timeout(monkeypatch):
    from proxy.http.filters.fault import HttpFaultFilter

    monkeypatch.setattr(HttpFaultFilter, "_delay_over", lambda self: self._timer.enable(self.config.delay_ms))
    s = run(http(filters="http_filters: [{fault: {delay_ms: 500}}]"), [A("send", payload=GET), A("upstream_connect")])
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 408")  # Envoy's stream_idle_timeout (5 min)


def test_a_stream_idle_timeout_that_never_fires_is_a_stall(monkeypatch):
    from proxy.http.conn_manager import ActiveStream

    monkeypatch.setattr(ActiveStream, "arm_idle_timeout", lambda self, ms: None)
    fails(
        "stall_stream_idle_timeout",
        http(),
        [A("send", payload=b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")],
    )


def test_a_proxy_that_keeps_itself_busy_is_settle_unbounded(monkeypatch):
    from proxy.network.connection import Connection

    original = Connection.take_output

    def chatty(self, max_bytes=None):  # the planted bug: every read by the peer makes one more byte
        out = original(self, max_bytes)
        if out and not self.is_client:
            self.write_buffer.add(b"!")
        return out

    monkeypatch.setattr(Connection, "take_output", chatty)
    fails(
        "settle_unbounded",
        http(),
        [
            A("send", payload=GET),
            A("upstream_connect"),
            A("upstream_read"),
            A("upstream_send", payload=response(b"ok")),
        ],
    )


def test_settling_stops_at_the_first_quiet_state_without_moving_time():
    s = Session(http())
    s.run(
        [
            A("connect"),
            A("send", payload=GET),
            A("upstream_connect"),
            A("upstream_read"),
            A("upstream_send", payload=response(b"ok")),
            A("read"),
        ]
    )
    assert s.dispatcher.now_ms() >= 120_000  # the shutdown's own advance
    s2 = Session(http())
    for a in [
        A("connect"),
        A("send", payload=GET),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=response(b"ok")),
        A("read"),
    ]:
        s2.apply(a)
        s2.dispatcher.run_posted()
    settle.settle(s2)
    assert s2.dispatcher.now_ms() == 0 and liveness.find_stall(s2) is None
    held.check(s2)


# -- the h2_codec harness: the codec pair settled ------------------------------------------------------
def _pair_exchange(body: bytes):
    from fuzz.targets import h2pair

    pair = h2pair.Pair()
    c = pair.client
    head = (b"POST", b"/up", b"a.example", b"http", [])
    sid = pair.command(c, "send_request_headers", *head[:3], head[4], scheme=head[3])
    c.sent[sid] = h2pair.Sent(head=head)
    pair.command(c, "send_data", sid, body, end_stream=True)
    c.sent[sid].body += body
    c.sent[sid].ended = True
    pair.settle()
    h2pair.answer_owed(pair)
    h2pair.check_liveness(pair)
    return pair, sid


def test_a_settled_codec_pair_passes_and_answers_the_request():
    pair, sid = _pair_exchange(b"x" * 100_000)
    assert pair.client.got[sid].ended and pair.server.got[sid].body == b"x" * 100_000


def test_a_codec_that_never_credits_consumed_bytes_fails_the_pair(monkeypatch):
    from proxy.http import h2 as h2codec

    monkeypatch.setattr(h2codec._H2Codec, "consume", _consume_without_credit)
    with pytest.raises(InvariantViolation, match="h2_window_not_credited"):
        _pair_exchange(b"x" * 1000)


def test_a_codec_that_waits_for_a_window_wider_than_its_body_stalls(monkeypatch):
    from proxy.http import h2 as h2codec

    original = h2codec._H2Codec._flush_stream

    def all_or_nothing(self, stream_id):  # the planted bug: a body that does not fit at once waits for good
        st = self._streams.get(stream_id)
        if st is not None and st.out_bytes > self._conn.local_flow_control_window(stream_id):
            return
        original(self, stream_id)

    monkeypatch.setattr(h2codec._H2Codec, "_flush_stream", all_or_nothing)
    with pytest.raises(InvariantViolation, match="h2_outbound_stalled"):
        _pair_exchange(b"x" * 100_000)


def test_a_response_whose_end_never_leaves_the_codec_is_a_request_without_outcome(monkeypatch):
    from proxy.http import h2 as h2codec

    original = h2codec.H2ServerCodec.send_headers
    monkeypatch.setattr(
        h2codec.H2ServerCodec,
        "send_headers",
        lambda self, sid, status, headers, end_stream=False: original(self, sid, status, headers),
    )
    with pytest.raises(InvariantViolation, match="stall_request_without_outcome"):
        _pair_exchange(b"x" * 10)


# -- the http_translate harness: the downstream HTTP/2 codec credits what was consumed --------------------
def test_translate_finds_an_h2_server_codec_that_never_credits_consumed_bytes(monkeypatch):
    from fuzz.targets import translate
    from proxy.http import h2 as h2codec

    upload = raw_h2_request("POST", body=b"u" * 1000)
    translate.check(upload)  # passes on the proxy
    monkeypatch.setattr(h2codec._H2Codec, "consume", _consume_without_credit)
    with pytest.raises(InvariantViolation, match="h2_window_not_credited"):
        translate.check(upload)


# -- a valid request, then pipelined in the same write one the HTTP/1.1 codec refuses -----------------
PIPELINED_THEN_BAD = [
    A("send", payload=b"GET /first HTTP/1.1\r\nHost: h\r\n\r\nGET * HTTP/1.1\r\nHost: h\r\n\r\n"),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=response(b"ok")),
    A("read"),
]


def test_a_request_before_a_refused_pipelined_one_is_answered_then_the_400_and_the_close():
    s = run(http(), PIPELINED_THEN_BAD)
    assert bytes(s.downstream[0].received) == (
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
    assert s.downstream[0].conn.state.name == "CLOSED"


def test_a_connection_manager_that_resets_requests_before_a_refused_one_leaves_the_client_waiting(monkeypatch):
    from proxy.http import conn_manager

    dispatch = conn_manager.HttpConnectionManager._dispatch

    def every_stream_dies(self, ev):  # the defect as found: a connection-level error reset the valid request
        if isinstance(ev, conn_manager.ProtocolViolation) and ev.stream_id is None:
            ev = conn_manager.ProtocolViolation(ev.reason, ev.status)
        return dispatch(self, ev)

    monkeypatch.setattr(conn_manager.HttpConnectionManager, "_dispatch", every_stream_dies)
    err = fails("stall_request_without_outcome", http(), PIPELINED_THEN_BAD)
    assert "GET /first" in err.detail


# -- settling a legitimately slow exchange ---------------------------------------------------------
# An HTTP/2 client whose SETTINGS give each stream a 16-byte window (settings byte 0x0C), asking for
# a 200 KB response: settling, the client reads everything and opens its windows (it no longer
# moves the body 16 bytes a round until settle_unbounded).
BIG = b"x" * 200_000
H2_SMALL_WINDOW_GET = [
    A("send_http", value=3, payload=bytes([2, 0, 0, 30, 0, 0])),
    A("settings", value=0x0C),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=response(BIG)),
]


def test_a_large_response_to_a_client_with_a_16_byte_window_settles():
    s = run(http(codec="HTTP2", limit=65536), H2_SMALL_WINDOW_GET)
    assert s.peers.clients[0].streams, "the strict HTTP/2 client follows the exchange"
    assert s.ctx.stats.counters["http.downstream_rs_total"] == 1
    assert sum(len(m.body) for m in s.peers.clients[0].streams.values()) == len(BIG)


def test_an_h2_proxy_that_bounces_pings_forever_is_still_settle_unbounded(monkeypatch):
    import h2.events

    from proxy.http import h2 as h2codec

    original = h2codec._H2Codec._translate

    def bouncing(self, ev, merged, events):  # the planted bug: a keepalive PING for every credit and every ACK
        original(self, ev, merged, events)
        if isinstance(ev, (h2.events.WindowUpdated, h2.events.PingAckReceived)):
            self._conn.ping(b"bouncing")

    monkeypatch.setattr(h2codec._H2Codec, "_translate", bouncing)
    fails("settle_unbounded", http(codec="HTTP2", limit=65536), H2_SMALL_WINDOW_GET)


# -- a TLS client whose handshake failed still reads the wire --------------------------------------
# A TLS client on a clear-text tcp_proxy chain: its ClientHello goes upstream, the upstream answers
# 100 KB of clear text, the client's handshake fails (WRONG_VERSION_NUMBER) and it decrypts nothing,
# yet each read it makes drains its connection and lets the paused upstream move on.
TLS_CLIENT_CLEAR_TEXT_UPSTREAM = [
    A("connect_tls", 0, payload=bytes([1])),
    A("upstream_connect"),
    A("upstream_read"),
    A("read"),
    A("upstream_send", payload=b"u" * 100_000),
]


def test_a_tls_client_that_decrypts_nothing_still_drains_a_tcp_proxy():
    """Found by fuzz run session 120 s (stall_read_disabled_tcp_proxy, 983083 bytes waiting):
    settling counted a peer's read as progress only by the plaintext it got."""
    s = Session(tcp_proxy()).run(TLS_CLIENT_CLEAR_TEXT_UPSTREAM)
    client = s.downstream[0]
    assert client.failed and len(client.wire_received) == 100_000 and not client.received


def test_a_tcp_proxy_that_forgets_to_resume_reading_is_a_stall_behind_a_failed_tls_client(monkeypatch):
    from proxy.network.filters.tcp_proxy import TcpProxyFilter

    monkeypatch.setattr(TcpProxyFilter, "_resume_reading", lambda self, of_downstream: None)
    with pytest.raises(InvariantViolation, match="stall_read_disabled_tcp_proxy"):
        Session(tcp_proxy()).run(TLS_CLIENT_CLEAR_TEXT_UPSTREAM)


# -- a long relay is progress, not a proxy keeping itself busy ------------------------------------
# Found by a clean-clone .ci/run (settle_unbounded): a client draining a 4 MB tcp_proxy relay at a
# 16 KiB buffer limit needs 256 rounds, which was the whole budget of settling (8 KiB buffers here).
BIG_RELAY = [A("upstream_connect"), A("upstream_read"), A("upstream_send", payload=b"u" * 4_200_000)]


def test_a_client_draining_a_4_mb_relay_at_8_kib_buffers_settles():
    s = run(tcp_proxy(limit=8_192), BIG_RELAY)  # about 300 rounds
    assert len(s.downstream[0].received) == 4_200_000


def test_an_h2_proxy_bouncing_pings_behind_a_1_mb_response_is_still_settle_unbounded(monkeypatch):
    """The rounds that move the body are free; the bouncing after it spends the budget."""
    import h2.events

    from proxy.http import h2 as h2codec

    original = h2codec._H2Codec._translate

    def bouncing(self, ev, merged, events):  # the planted bug, as above
        original(self, ev, merged, events)
        if isinstance(ev, (h2.events.WindowUpdated, h2.events.PingAckReceived)):
            self._conn.ping(b"bouncing")

    monkeypatch.setattr(h2codec._H2Codec, "_translate", bouncing)
    actions = H2_SMALL_WINDOW_GET[:-1] + [A("upstream_send", payload=response(b"x" * 1_000_000))]
    err = fails("settle_unbounded", http(codec="HTTP2", limit=65536), actions)
    assert "256 without relay progress" in err.detail


def test_a_request_to_a_black_holed_upstream_ends_by_its_route_timeout():
    """Settling asked a silent upstream (upstream_connect_silent) to answer every round, which it
    never does, until settle_unbounded; only the route timeout ends such a request."""
    s = run(http(), [A("send", payload=GET), A("upstream_connect_silent")])
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 504")


def test_a_route_timeout_never_armed_for_a_black_holed_upstream_is_a_stall(monkeypatch):
    from proxy.http.filters.router import Router

    monkeypatch.setattr(Router, "_start_timeout", lambda self: None)
    err = fails(
        "stall_request_without_outcome",
        http(hcm="stream_idle_timeout_ms: 0"),
        [A("send", payload=GET), A("upstream_connect_silent")],
    )
    assert "never answers" in err.detail


def two_fault_delays():
    """Two network fault filters, each delaying 1 s, in front of an HCM that answers 200 itself."""
    return build(
        load_bytes(
            b"""
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filters:
    - fault: {delay_ms: 1000, throttle_bytes_per_sec: 4096}
    - fault: {delay_ms: 1000, throttle_bytes_per_sec: 4096}
    - http_connection_manager:
        request_timeout_ms: 983
        stream_idle_timeout_ms: 0
        route_config:
          virtual_hosts:
          - {name: all, domains: ["*"], routes: [{match: {prefix: "/"}, direct_response: {status: 200}}]}
""",
            "yaml",
        )
    )


# -- a request that never left its TLS client ---------------------------------------------------
def test_a_request_waiting_for_its_tls_handshake_is_not_judged_as_sent():
    """session (config-s1-0010 of the regenerated pool): a TLS client on a clear-text HCM chain whose
    fault filters delay its ClientHello; its GET waits inside the client for a handshake that never
    completes, and was judged a request without outcome."""
    delayed = two_fault_delays()
    actions = [A("connect_tls", 0, payload=bytes([1])), A("send_http", 1, value=0, payload=b"\x00")]
    s = run(delayed, actions + [A("advance", value=100), A("advance", value=1000)])
    assert s.downstream[1].unsent and not s.downstream[1].handshake_done


def test_a_request_the_second_of_two_fault_delays_holds_is_a_timer_wait():
    """session (fuzz run from an empty corpus, config-s1-0010): the first delay had passed the request
    on and the second held it, its timer armed, when settling began; the manager had no stream yet,
    and liveness called it a request without outcome instead of running time to that timer."""
    s = run(two_fault_delays(), [A("send", payload=GET), A("advance", value=1010)])
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 200")


# -- HTTP/1.1 pipelining: a response queued behind an earlier one waits on that exchange ---------------------
# Three pipelined requests; the second one's upstream never answers, the third's answers 1 MiB at once, which
# waits queued behind the second (docs/semantics.md, HTTP/1.1 pipelining) and pauses its upstream. Only the
# route timeout ends the second; the third's pause was judged a stall at once (found by a session campaign:
# stall_read_disabled_upstream), though the timer that ends the exchange ahead of it was armed.
def pipelined(second_upstream: str):
    return [
        A("send_http", value=0, payload=b"\x00"),
        A("upstream_connect"),
        A("send_http", 1, value=0, payload=b"\x00"),
        A(second_upstream),
        A("upstream_http", value=0, payload=b"\x00\x00\x3c\x01" + b"K" * 16),
        A("send_http", value=1, payload=b"\x00"),
        A("upstream_http", value=0, payload=b"\x00\x00\x3c\x09" + b"L" * 16),
    ]


PIPELINING = dict(limit=1033, hcm="stream_idle_timeout_ms: 1000", route=", timeout_ms: 500")


def test_a_pipelined_response_waiting_its_turn_is_a_wait_on_the_exchange_ahead_of_it():
    s = run(http(**PIPELINING), pipelined("upstream_connect_silent"))
    outcomes = [(ex.outcome, ex.response.status, len(ex.response.body)) for ex in s.peers.exchanges]
    # The second ends by its route timeout. The third's own route timer ran while it waited in line and
    # ends it at the same moment, with what was queued written (docs/semantics.md, HTTP/1.1 pipelining).
    assert outcomes == [("response", 200, 4096), ("response", 504, 25), ("closed", 200, 16341)]


def test_a_pipelined_response_whose_turn_came_is_whole():
    s = run(http(**PIPELINING), pipelined("upstream_connect"))  # the second's upstream answers when settling
    assert [(ex.outcome, ex.response.status, len(ex.response.body)) for ex in s.peers.exchanges] == [
        ("response", 200, 4096),
        ("response", 200, 0),
        ("response", 200, 1 << 20),
    ]


def test_the_exchange_a_pipelined_response_waits_for_is_still_judged(monkeypatch):
    # The router never arms its route timeout, and no stream idle timeout is configured: the second
    # request waits on its black-holed upstream for good, and the third behind it. The third's wait is
    # the second's; the second's is the finding.
    from proxy.http.filters.router import Router

    monkeypatch.setattr(Router, "_start_timeout", lambda self: None)
    config = http(limit=1033, hcm="stream_idle_timeout_ms: 0", route=", timeout_ms: 500")
    err = fails("stall_request_without_outcome", config, pipelined("upstream_connect_silent"))
    assert "stream 2" in str(err) and "its upstream never answers" in str(err)
