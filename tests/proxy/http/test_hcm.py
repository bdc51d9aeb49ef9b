"""HTTP connection manager, as scripts of the exchange over the in-memory network:
client bytes in, upstream bytes out, upstream answer in, client bytes out."""

import json

import h2.config
import h2.connection
import h2.events
import pytest

from proxy.http.conn_manager import StreamEndedTwiceError

from httpscript import Proxy, basic_config, ok, parse_requests, parse_responses

GET = b"GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n"


def _get_in_flight():
    """A proxy, a client, and the upstream its GET has reached (the response still to come)."""
    p = Proxy(basic_config())
    c = p.client()
    c.send(GET)
    up = p.upstream().accept()
    up.read()
    return p, c, up


def test_h1_request_is_routed_upstream_and_the_response_comes_back():
    p = Proxy(basic_config())
    c = p.client()
    c.send(b"GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Custom: 1\r\n\r\n")
    up = p.upstream()
    assert up.address == ("127.0.0.1", 9080)
    up.accept()
    [(method, target, headers, body)] = parse_requests(up.read())
    assert (method, target, headers[b"host"], headers[b"x-custom"]) == (b"GET", b"/a?x=1", b"example.com", b"1")
    up.send(ok(b"hello"))
    [(status, headers, body)] = parse_responses(c.read())
    assert (status, body) == (200, b"hello")
    assert p.counter("http.downstream_rq_total") == p.counter("http.downstream_rs_total") == 1
    assert p.counter("http.downstream_rq_200") == 1 and p.stats_add_up()


def test_keep_alive_reuses_the_upstream_connection():
    p, c, up = _get_in_flight()
    up.send(ok())
    c.read()
    c.send(b"GET /second HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert p.new_upstream_count() == 0
    assert parse_requests(up.read())[0][1] == b"/second"
    up.send(ok(b"2"))
    assert parse_responses(c.read())[0][2] == b"2"


def test_request_body_and_chunked_response_are_relayed():
    p = Proxy(basic_config())
    c = p.client()
    c.send(b"POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    up = p.upstream().accept()
    c.send(b"6\r\n world\r\n0\r\n\r\n")
    [(method, _, _, body)] = parse_requests(up.read())
    assert (method, body) == (b"POST", b"hello world")
    up.send(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    [(status, _, body)] = parse_responses(c.read())
    assert (status, body) == (201, b"abc")
    [rec] = p.log.records
    assert rec["attributes"]["http.request.body.size"] == 11
    assert rec["attributes"]["http.response.body.size"] == 3


def test_pipelined_requests_are_answered_in_request_order():
    p = Proxy(basic_config())
    c = p.client()
    c.send(b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(3)))
    ups = [p.upstream().accept() for _ in range(3)]  # one exchange per HTTP/1.1 upstream connection
    targets = [parse_requests(u.read())[0][1] for u in ups]
    assert targets == [b"/0", b"/1", b"/2"]
    for i in (2, 1, 0):  # the upstreams answer in reverse
        ups[i].send(ok(b"r%d" % i))
    assert [body for _, _, body in parse_responses(c.read())] == [b"r0", b"r1", b"r2"]
    assert p.counter("http.downstream_rs_total") == 3 and p.stats_add_up()


def test_a_pipelined_response_queued_behind_an_earlier_one_pauses_its_upstream():
    """A response for a later pipelined request waits in the codec until the earlier ones are out;
    over the stream's buffer limit its upstream is paused, as for a slow client, and resumed when its
    turn comes (found by session: 192 KB queued for a stream whose limit is 1 KB)."""
    limited = basic_config().replace(
        "    filter_chains:", "    per_connection_buffer_limit_bytes: 1024\n    filter_chains:", 1
    )
    p = Proxy(limited)
    c = p.client()
    c.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
    a, b = p.upstream().accept(), p.upstream().accept()
    a.read(), b.read()
    b.send(b"HTTP/1.1 200 OK\r\ncontent-length: 40000\r\n\r\n" + b"b" * 8000)
    assert b.conn.read_disable_count == 1  # paused: 8000 bytes queued, over the 1024 limit
    b.send(b"b" * 32000)
    assert len(b.sock.inbound) == 32000  # left with the upstream while paused
    a.send(ok(b"a"))
    received = b""
    for _ in range(200):
        received += c.read()
    assert [(status, len(body)) for status, _, body in parse_responses(received)] == [(200, 1), (200, 40000)]
    assert p.stats_add_up()


def test_a_request_from_a_client_that_is_not_reading_starts_paused():
    """A keep-alive client that does not read: the first response fills its write buffer past the
    high watermark, then it sends another request. That stream was born after the pause, so nothing
    paused its upstream, and its whole 1 MB response went into the 1 KiB-limited write buffer. Envoy
    starts a stream created above the watermark paused (newStream: callHighWatermarkCallbacks)."""
    limited = basic_config().replace(
        "    filter_chains:", "    per_connection_buffer_limit_bytes: 1024\n    filter_chains:", 1
    )
    p = Proxy(limited)
    c = p.client()
    c.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    up = p.upstream().accept()
    up.read()
    up.send(ok(b"a" * 4000))
    assert c.conn.write_buffer.above_high_watermark
    c.send(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
    assert parse_requests(up.read())[0][1] == b"/b"
    up.send(ok(b"b" * 1_000_000))
    assert len(c.conn.write_buffer) < 20_000 and not up.conn.reading_enabled  # 1,004,085 bytes before
    received = b""
    for _ in range(2000):
        received += c.read()
    assert [(status, len(body)) for status, _, body in parse_responses(received)] == [(200, 4000), (200, 1_000_000)]


def _h2_client():
    h = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    h.initiate_connection()
    return h


def _h2_events(h, data):
    events = h.receive_data(data)
    return events


def test_h2_client_to_h1_upstream():
    p = Proxy(basic_config())
    c = p.client()
    h = _h2_client()
    h.send_headers(
        1,
        [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":authority", b"example.com"),
            (b":path", b"/h2"),
            (b"x-a", b"1"),
        ],
    )
    h.send_data(1, b"body", end_stream=True)
    c.send(h.data_to_send())
    up = p.upstream().accept()
    [(method, target, headers, body)] = parse_requests(up.read())
    assert (method, target, headers[b"host"], headers[b"x-a"], body) == (b"POST", b"/h2", b"example.com", b"1", b"body")
    up.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Up: y\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
    events = _h2_events(h, c.read())
    [resp] = [e for e in events if isinstance(e, h2.events.ResponseReceived)]
    assert dict(resp.headers)[b":status"] == b"200" and dict(resp.headers)[b"x-up"] == b"y"
    assert b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived)) == b"hi"
    assert any(isinstance(e, h2.events.StreamEnded) for e in events)
    assert p.log.records[0]["attributes"]["network.protocol.version"] == "2"


def _h2_server():
    h = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    h.initiate_connection()
    return h


H2_CLUSTER = "\n    protocol: HTTP2"


def test_h1_client_to_h2_upstream():
    p = Proxy(basic_config(cluster_extra=H2_CLUSTER))
    c = p.client()
    c.send(b"POST /up HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\nabc")
    up = p.upstream().accept()
    srv = _h2_server()
    events = srv.receive_data(up.read())
    [req] = [e for e in events if isinstance(e, h2.events.RequestReceived)]
    hdrs = dict(req.headers)
    assert (hdrs[b":method"], hdrs[b":path"], hdrs[b":authority"]) == (b"POST", b"/up", b"example.com")
    assert b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived)) == b"abc"
    srv.send_headers(req.stream_id, [(b":status", b"200"), (b"content-length", b"2")])
    srv.send_data(req.stream_id, b"ok", end_stream=True)
    up.send(srv.data_to_send())
    [(status, headers, body)] = parse_responses(c.read())
    assert (status, body) == (200, b"ok")


def test_a_stream_opened_on_a_backed_up_h2_upstream_starts_paused():
    """The upstream grants a 2 GiB window and reads nothing: the connection's write buffer is over its
    1 KiB high watermark, and the first upload is paused. A second upload opened on that connection
    was not: its whole body went into the write buffer as fast as its client sent it (116,590 bytes
    held after 100 KB; as far as the window allows). Envoy's CodecClient::newStream starts it paused."""
    import h2.settings

    p = Proxy(basic_config(cluster_extra=H2_CLUSTER + "\n    per_connection_buffer_limit_bytes: 1024"))
    first = p.client()
    first.send(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 400000\r\n\r\n")
    up = p.upstream().accept()
    srv = _h2_server()
    srv.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
    srv.increment_flow_control_window(2**31 - 1 - 65535)
    up.send(srv.data_to_send())
    first.send(b"a" * 100_000)
    assert up.conn.write_buffer.above_high_watermark and len(first.conn.io.inbound) > 80_000
    second = p.client()
    second.send(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 400000\r\n\r\n")
    second.send(b"b" * 100_000)
    assert len(up.conn.write_buffer) < 20_000 and len(second.conn.io.inbound) == 100_000
    for _ in range(20):  # the upstream takes what was written: both uploads go on
        up.read()
    assert not second.conn.io.inbound and not first.conn.io.inbound


def test_h2_upstream_multiplexes_streams_on_one_connection():
    p = Proxy(basic_config(cluster_extra=H2_CLUSTER))
    clients = [p.client() for _ in range(3)]
    for i, c in enumerate(clients):
        c.send(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
    up = p.upstream().accept()
    assert p.new_upstream_count() == 0
    srv = _h2_server()
    reqs = [e for e in srv.receive_data(up.read()) if isinstance(e, h2.events.RequestReceived)]
    assert len(reqs) == 1  # the others wait for the upstream's SETTINGS (its stream limit) ...
    up.send(srv.data_to_send())
    reqs += [e for e in srv.receive_data(up.read()) if isinstance(e, h2.events.RequestReceived)]
    assert len(reqs) == 3 and p.new_upstream_count() == 0  # ... and go on the same connection
    for r in reqs:
        path = dict(r.headers)[b":path"]
        srv.send_headers(r.stream_id, [(b":status", b"200")])
        srv.send_data(r.stream_id, path, end_stream=True)
    up.send(srv.data_to_send())
    for i, c in enumerate(clients):
        assert parse_responses(c.read())[0][2] == b"/%d" % i


def test_graceful_goaway_from_an_h2_upstream_lets_streams_up_to_its_last_id_finish():
    """RFC 9113 6.8: streams at or below the GOAWAY's last stream id may still complete; those
    above were not processed. New requests go to a new upstream connection."""
    from hyperframe.frame import GoAwayFrame

    p = Proxy(basic_config(cluster_extra=H2_CLUSTER))
    first, second = p.client(), p.client()
    first.send(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
    second.send(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
    up = p.upstream().accept()
    srv = _h2_server()
    up.send(srv.data_to_send())  # its SETTINGS first (a server's preface): the proxy sends both streams
    one, three = [e.stream_id for e in srv.receive_data(up.read()) if isinstance(e, h2.events.RequestReceived)]
    up.send(srv.data_to_send() + GoAwayFrame(0, last_stream_id=one, error_code=0).serialize())
    srv.send_headers(one, [(b":status", b"200"), (b"content-length", b"4")])
    srv.send_data(one, b"done", end_stream=True)
    up.send(srv.data_to_send())
    assert parse_responses(first.read())[0][::2] == (200, b"done")  # finished after the GOAWAY
    status, headers, _ = parse_responses(second.read())[0]
    assert status == 503  # stream 3 was above the last id: never processed upstream
    third = p.client()
    third.send(b"GET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert p.new_upstream_count() == 1  # not on the connection that is going away
    assert not up.conn.is_open  # closed once its last stream ended


def test_request_headers_over_the_limit_get_431():
    p = Proxy(basic_config(hcm_extra="\n              max_request_headers_kb: 1"))
    c = p.client()
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1100 + b"\r\n\r\n")
    [(status, _, _)] = parse_responses(c.read())
    assert status == 431
    assert p.new_upstream_count() == 0
    assert p.counter("http.local_replies") == 1 and p.stats_add_up()


def test_h2_request_headers_over_the_limit_get_431_too():
    p = Proxy(basic_config(hcm_extra="\n              max_request_headers_kb: 1"))
    c = p.client()
    h = _h2_client()
    h.send_headers(
        1,
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/"), (b"x-big", b"a" * 1100)],
        end_stream=True,
    )
    c.send(h.data_to_send())
    [resp] = [e for e in h.receive_data(c.read()) if isinstance(e, h2.events.ResponseReceived)]
    assert dict(resp.headers)[b":status"] == b"431"


def test_request_timeout_answers_504_once_the_request_is_complete():
    p = Proxy(basic_config(hcm_extra="\n              request_timeout_ms: 1000"))
    c = p.client()
    c.send(GET)
    up = p.upstream().accept()
    up.read()
    p.advance(999)
    assert c.read() == b""
    p.advance(1)
    [(status, _, _)] = parse_responses(c.read())
    assert status == 504
    assert p.counter("http.downstream_rq_timeout") == 1 and p.stats_add_up()
    # Envoy's request_timeout sets no flag; DT is max_stream_duration's or a connection duration's
    # (access log docs, %RESPONSE_FLAGS%: DurationTimeout), which the schema lacks
    assert p.log.records[0]["attributes"]["proxy.response_flags"] == "-"
    assert not up.conn.is_open  # the upstream exchange was abandoned (HTTP/1.1: connection closed)


def test_request_timeout_answers_408_while_the_request_is_incomplete():
    p = Proxy(basic_config(hcm_extra="\n              request_timeout_ms: 500"))
    c = p.client()
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    p.advance(500)
    assert parse_responses(c.read())[0][0] == 408


def test_route_timeout_answers_504_with_flag_ut():
    p = Proxy(
        basic_config(
            routes="""
                      - match: {prefix: "/"}
                        route: {cluster: web, timeout_ms: 200}"""
        )
    )
    c = p.client()
    c.send(GET)
    p.upstream().accept().read()
    p.advance(200)
    assert parse_responses(c.read())[0][0] == 504
    assert p.log.records[0]["attributes"]["proxy.response_flags"] == "UT"
    assert p.counter("cluster.web.upstream_rq_timeout") == 1


def test_idle_timeout_closes_a_connection_without_streams():
    p = Proxy(basic_config(hcm_extra="\n              idle_timeout_ms: 1000"))
    c = p.client()
    p.advance(600)
    c.send(GET)
    up = p.upstream().accept()
    up.read()
    p.advance(2000)  # a stream is active: not idle
    assert c.conn.is_open
    up.send(ok())
    c.read()
    p.advance(999)
    assert c.conn.is_open
    p.advance(1)
    c.read()
    assert not c.conn.is_open
    assert p.counter("http.downstream_cx_idle_timeout") == 1


def test_upstream_close_before_the_response_is_a_503_uc():
    """Envoy's flag for an upstream connection that ended under the request: UC (UR is a stream reset)."""
    p, c, up = _get_in_flight()
    up.close()
    assert parse_responses(c.read())[0][0] == 503
    assert p.log.records[0]["attributes"]["proxy.response_flags"] == "UC"


def test_upstream_reset_mid_response_resets_the_downstream_stream():
    p, c, up = _get_in_flight()
    up.send(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
    up.close()
    c.read()
    assert not c.conn.is_open  # HTTP/1.1 has no stream reset: the connection ends
    assert p.counter("http.downstream_rq_reset") == 1 and p.stats_add_up()


def test_a_response_reset_after_its_head_still_counts_its_status_once():
    """Envoy charges downstream_rq_<code> and _<N>xx as it encodes the final head: the client has the
    status even when the stream is reset after it (found by session: a HEAD answer the client read
    whole, then the HTTP/2 upstream sent a body for it, which reset the stream; the 2xx went uncounted)."""
    p, c, up = _get_in_flight()
    up.send(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
    up.close()
    c.read()
    counted = [p.counter(f"http.downstream_rq_{k}") for k in ("200", "2xx", "reset")]
    assert counted == [1, 1, 1] and p.stats_add_up()
    p, c, up = _get_in_flight()
    up.send(ok())
    assert parse_responses(c.read())[0][0] == 200
    assert [p.counter(f"http.downstream_rq_{k}") for k in ("200", "2xx", "reset")] == [1, 1, 0]


def test_client_disconnect_mid_request_resets_and_abandons_upstream():
    p, c, up = _get_in_flight()
    c.reset()
    assert p.counter("http.downstream_rq_reset") == 1 and p.stats_add_up()
    assert not up.conn.is_open


def test_expect_100_continue_is_answered_by_the_proxy():
    p = Proxy(basic_config())
    c = p.client()
    c.send(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
    assert c.read().startswith(b"HTTP/1.1 100 Continue\r\n")
    c.send(b"hi")
    up = p.upstream().accept()
    [(method, _, headers, body)] = parse_requests(up.read())
    assert (method, body) == (b"PUT", b"hi") and b"expect" not in headers


def test_h1_protocol_error_is_counted_without_a_stream():
    p = Proxy(basic_config())
    c = p.client()
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert parse_responses(c.read())[0][0] == 400
    # Still a request, ended by the codec's local reply: Envoy's HTTP/1 codec made its stream at the
    # request's first byte, so its 400 never outnumbers downstream_rq_total
    assert p.counter("http.downstream_rq_total") == 1 == p.counter("http.downstream_rq_4xx")
    assert p.counter("http.local_replies") == 1
    assert p.counter("http.downstream_cx_protocol_error") == 1
    assert p.new_upstream_count() == 0


def test_access_log_line_fields():
    p = Proxy(basic_config())
    c = p.client(remote=("127.0.0.1", 43210))
    c.send(b"GET /p/q?z=9 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n")
    up = p.upstream().accept()
    up.read()
    p.advance(25)
    up.send(ok(b"four"))
    c.read()
    [line] = p.log.lines
    rec = json.loads(line)
    assert rec["body"] == "GET /p/q 200" and rec["severityText"] == "INFO"
    assert rec["attributes"] == {
        "http.request.method": "GET",
        "url.path": "/p/q",
        "url.query": "z=9",
        "server.address": "example.com",
        "server.port": 8080,
        "network.protocol.name": "http",
        "network.protocol.version": "1.1",
        "http.response.status_code": 200,
        "http.request.body.size": 0,
        "http.response.body.size": 4,
        "client.address": "127.0.0.1",
        "client.port": 43210,
        "proxy.authority": "example.com:8080",
        "proxy.duration_ms": 25,
        "proxy.upstream.host": "127.0.0.1:9080",
        "proxy.upstream.cluster": "web",
        "proxy.response_flags": "-",
        "proxy.route": "all/0",
        "proxy.stream.end": "response",
    }


def test_a_stream_ended_twice_is_an_error():
    p = Proxy(basic_config())
    c = p.client()
    c.send(GET)
    [stream] = _hcm(c).streams.values()
    stream.peer_gone("test")
    with pytest.raises(StreamEndedTwiceError):
        stream._end("reset")


def _hcm(client):
    return client.conn.filter_manager.read_filters[-1].filter


def test_h2_flow_control_acknowledges_only_what_the_upstream_drains():
    """An upstream that does not read: the client's window is not reopened beyond what the proxy
    can hold (the upstream connection's buffer), so the client stalls instead of the proxy growing."""
    cfg = basic_config(cluster_extra="\n    per_connection_buffer_limit_bytes: 16384")
    p = Proxy(cfg)
    c = p.client()
    h = _h2_client()
    h.send_headers(1, [(b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/")])
    c.send(h.data_to_send())
    up = p.upstream().accept()
    sent = 0
    for _ in range(50):  # push as much as the windows allow
        window = min(h.local_flow_control_window(1), h.max_outbound_frame_size)
        if window <= 0:
            break
        h.send_data(1, b"x" * window)
        sent += window
        c.send(h.data_to_send())
        h.receive_data(c.read())
    upstream_buffered = len(up.conn.write_buffer)
    assert h.local_flow_control_window(1) == 0  # the client is stalled ...
    assert sent < 65535 + 16384 * 3  # ... after about one window plus the upstream buffer
    assert sent <= upstream_buffered <= sent + 1024  # all of it waits in the upstream buffer (plus framing)
    got = len(up.read())  # the upstream drains what was buffered
    assert got > 0
    h.receive_data(c.read())
    assert h.local_flow_control_window(1) > 0  # and the client may send again


def test_drain_closes_an_idle_keep_alive_connection_at_once():
    p, c, up = _get_in_flight()
    up.send(ok())
    assert parse_responses(c.read())[0][0] == 200 and c.conn.is_open
    p.ctx.start_drain()
    p.run()
    assert not c.conn.is_open
    assert p.counter("http.downstream_cx_drain_close") == 1


def test_drain_lets_a_request_in_flight_finish_then_closes_with_connection_close():
    p, c, up = _get_in_flight()
    p.ctx.start_drain()
    p.run()
    assert c.conn.is_open  # the response is still to come
    up.send(ok(b"late"))
    [(status, headers, body)] = parse_responses(c.read())
    assert (status, body, headers[b"connection"]) == (200, b"late", b"close")
    assert not c.conn.is_open


def test_drain_sends_http2_clients_goaway_naming_the_last_stream():
    p = Proxy(basic_config())
    c = p.client()
    h = _h2_client()
    h.send_headers(
        1,
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"example.com"), (b":path", b"/")],
        end_stream=True,
    )
    c.send(h.data_to_send())
    up = p.upstream().accept()
    up.read()
    p.ctx.start_drain()
    p.run()
    up.send(ok(b"done"))
    # Read as frames: the h2 library refuses every frame after a GOAWAY (real clients do not).
    frames = _frames(c.read())
    kinds = [type(f).__name__ for f in frames]
    goaway = frames[kinds.index("GoAwayFrame")]
    assert (goaway.error_code, goaway.last_stream_id) == (0, 1)
    assert (
        b"".join(
            f.data for f in frames[kinds.index("GoAwayFrame") :] if type(f).__name__ == "DataFrame" and f.stream_id == 1
        )
        == b"done"
    )
    assert not c.conn.is_open


def _frames(data: bytes) -> list:
    from hyperframe.frame import Frame

    frames = []
    while len(data) >= 9:
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9 : 9 + length]))
        frames.append(frame)
        data = data[9 + length :]
    return frames


def test_a_connection_closed_before_the_drain_is_not_called_back():
    p = Proxy(basic_config())
    c = p.client()
    c.send(GET)
    c.reset()
    p.run()
    assert not p.ctx.drain_callbacks
    p.ctx.start_drain()
    assert p.counter("http.downstream_cx_drain_close") == 0


def _stall_h2_client(p, c, streams: int, body: int) -> list:
    """An HTTP/2 client that opens `streams` GETs and never opens a window (its socket is read, the
    frames are never processed); each upstream answers with a `body`-byte response sent all at once
    (what the proxy does not read stays in the upstream's socket)."""
    h = _h2_client()
    for i in range(streams):
        h.send_headers(
            1 + 2 * i,
            [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/big")],
            end_stream=True,
        )
    c.send(h.data_to_send())
    ups = [p.upstream().accept() for _ in range(streams)]
    for up in ups:
        up.read()
        up.send(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % body + b"b" * body)
    while c.read():  # what the windows let through leaves the proxy; nothing opens them again
        pass
    return ups


STALL_CONFIG = (
    basic_config()
    .replace("    filter_chains:", "    per_connection_buffer_limit_bytes: 65536\n    filter_chains:")
    # No route timeout: it spans the whole response and would end these streams (15 s) first.
    .replace("route: {cluster: web}", "route: {cluster: web, timeout_ms: 0}")
)


def test_stalled_h2_streams_hold_about_one_buffer_limit_per_connection():
    """Issue 13 defect 3: 10 streams whose client reads nothing. Each stream alone may hold up to the
    64 KiB buffer limit; together they hold about one limit (plus a read each), not ten, and every
    upstream stops being read."""
    p = Proxy(STALL_CONFIG)
    c = p.client()
    ups = _stall_h2_client(p, c, streams=10, body=1 << 20)
    held = _hcm(c).codec._inner.buffered_outbound_total()
    assert 65536 < held <= 65536 + 10 * 16384
    assert not any(up.conn.reading_enabled for up in ups)


def test_stream_idle_timeout_resets_stalled_streams_and_frees_what_they_hold():
    """Envoy's stream_idle_timeout (default 5 min): nothing went through the stalled streams since
    the upstreams were paused, so they are reset (flag SI) and their upstream connections closed.
    The room the first reset makes does not resume the others: their client took nothing."""
    p = Proxy(STALL_CONFIG)
    c = p.client()
    ups = _stall_h2_client(p, c, streams=3, body=1 << 20)
    p.advance(299_000)
    assert p.counter("http.downstream_rq_idle_timeout") == 0
    p.advance(1_000)
    assert p.counter("http.downstream_rq_idle_timeout") == 3
    assert _hcm(c).codec._inner.buffered_outbound_total() == 0
    assert all(up.sock.is_closed for up in ups)
    assert [r["attributes"]["proxy.response_flags"] for r in p.log.records] == ["SI"] * 3
    assert p.stats_add_up()


def test_a_request_body_that_stops_coming_gets_408_after_the_stream_idle_timeout():
    p = Proxy(basic_config())
    c = p.client()
    c.send(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
    p.upstream().accept().read()
    p.advance(299_000)
    c.send(b"!")  # activity: the timeout starts again
    p.advance(299_000)
    assert c.read() == b""
    p.advance(1_000)
    [(status, _, body)] = parse_responses(c.read())
    assert (status, body) == (408, b"stream timeout\n")
    assert p.log.records[-1]["attributes"]["proxy.response_flags"] == "SI"


def test_stream_idle_timeout_zero_disables_it():
    p = Proxy(basic_config(hcm_extra="\n              stream_idle_timeout_ms: 0"))
    c = p.client()
    c.send(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
    p.upstream().accept().read()
    p.advance(3_600_000)
    assert c.read() == b"" and p.counter("http.downstream_rq_idle_timeout") == 0


def test_a_head_refused_before_the_filters_gets_no_body_over_http2():
    """A local reply made before the decoder filters saw the request (here the path options' 400)
    still answers a HEAD: no DATA. It went out with its 26-byte body, and an HTTP/2 client ended the
    connection over it (h2: InvalidBodyLengthError; found by fuzz run session from an empty corpus)."""
    p = Proxy(basic_config(hcm_extra="\n              path_with_escaped_slashes_action: REJECT_REQUEST"))
    c = p.client()
    h = _h2_client()
    head = [(b":method", b"HEAD"), (b":scheme", b"http"), (b":authority", b"example.com"), (b":path", b"/a%2Fb")]
    h.send_headers(1, head, end_stream=True)
    c.send(h.data_to_send())
    p.run()
    events = _h2_events(h, c.read())
    [resp] = [e for e in events if isinstance(e, h2.events.ResponseReceived)]
    assert dict(resp.headers)[b":status"] == b"400"
    assert not [e for e in events if isinstance(e, (h2.events.DataReceived, h2.events.ConnectionTerminated))]
    assert any(isinstance(e, h2.events.StreamEnded) for e in events)


def test_a_connection_closing_after_a_protocol_error_is_not_an_idle_timeout():
    """A connection the manager closes for a protocol error waits (FLUSH_WRITE) for a client that is
    not reading its 400; the idle timer armed when the connection had no stream fired meanwhile and
    counted http.downstream_cx_idle_timeout for a close it did not cause. Envoy's doConnectionClose
    disables the idle timer as the close begins."""
    p = Proxy(basic_config(hcm_extra="\n              idle_timeout_ms: 300"))
    c = p.client()
    c.send(b"GET /a HTTP/1.1\r\nHost: example.com\r\nBad Name: x\r\n\r\n")  # the client reads nothing yet
    p.advance(500)
    assert parse_responses(c.read())[0][0] == 400
    p.advance(1000)
    assert not c.conn.is_open
    assert p.counter("http.downstream_cx_protocol_error") == 1
    assert p.counter("http.downstream_cx_idle_timeout") == 0  # 1 before
