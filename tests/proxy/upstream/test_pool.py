"""Upstream HTTP pools through the router: circuit breakers, connect failure and timeout, retries,
keep-alive and HTTP/2 reuse, all on virtual time."""

from httpscript import Proxy, basic_config, ok, parse_requests, parse_responses

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def flags(p, i=-1):
    return p.log.records[i]["attributes"]["proxy.response_flags"]


def test_max_requests_breaker_answers_503_uo():
    p = Proxy(basic_config(cluster_extra="\n    circuit_breakers: {max_requests: 1}"))
    a, b = p.client(), p.client()
    a.send(GET)
    b.send(GET)
    [(status, _, body)] = parse_responses(b.read())
    assert status == 503 and flags(p) == "UO"
    assert p.counter("cluster.web.upstream_rq_overflow") == 1
    up = p.upstream().accept()
    up.read()
    up.send(ok())
    assert parse_responses(a.read())[0][0] == 200
    assert p.stats_add_up()


def test_max_pending_breaker_answers_503_uo():
    p = Proxy(basic_config(cluster_extra="\n    max_connections: 1\n    circuit_breakers: {max_pending_requests: 1}"))
    a, b, c = p.client(), p.client(), p.client()
    a.send(GET)  # opens the one connection allowed, waits for it
    b.send(GET)  # pending, beside a (a is pending too until the connect completes)
    assert parse_responses(b.read())[0][0] == 503
    assert p.counter("cluster.web.upstream_rq_pending_overflow") == 1
    up = p.upstream().accept()
    up.read()
    up.send(ok())
    assert parse_responses(a.read())[0][0] == 200
    c.send(GET)  # the connection is idle again: reused
    assert parse_requests(up.read())
    assert p.new_upstream_count() == 0


def test_max_connections_makes_requests_wait_for_a_free_connection():
    p = Proxy(basic_config(cluster_extra="\n    max_connections: 1"))
    a, b = p.client(), p.client()
    a.send(GET)
    up = p.upstream().accept()
    b.send(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
    assert p.new_upstream_count() == 0  # b waits: the breaker allows one connection
    assert len(parse_requests(up.read())) == 1
    up.send(ok(b"A"))
    assert parse_responses(a.read())[0][2] == b"A"
    assert parse_requests(up.read())[0][1] == b"/b"  # b got the connection once it was free
    up.send(ok(b"B"))
    assert parse_responses(b.read())[0][2] == b"B"


def test_connect_refused_is_503_uf():
    p = Proxy(basic_config())
    c = p.client()
    c.send(GET)
    p.upstream().refuse()
    [(status, _, _)] = parse_responses(c.read())
    assert status == 503 and flags(p) == "UF"
    assert p.counter("cluster.web.upstream_cx_connect_fail") == 1


def test_connect_timeout_is_503_uf_on_virtual_time():
    p = Proxy(basic_config(cluster_extra="\n    connect_timeout_ms: 250"))
    c = p.client()
    c.send(GET)
    up = p.upstream()
    p.advance(249)
    assert c.read() == b""
    p.advance(1)
    [(status, _, _)] = parse_responses(c.read())
    assert status == 503 and flags(p) == "UF"
    assert p.counter("cluster.web.upstream_cx_connect_timeout") == 1
    assert not up.conn.is_open
    assert p.log.records[-1]["attributes"]["proxy.duration_ms"] == 250


def test_connect_failure_is_retried_then_succeeds():
    p = Proxy(
        basic_config(
            routes="""
                      - match: {prefix: "/"}
                        route: {cluster: web, retry_policy: {num_retries: 2}}"""
        )
    )
    c = p.client()
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody")
    p.upstream().refuse()
    p.upstream().refuse()
    up = p.upstream().accept()
    [(method, _, _, body)] = parse_requests(up.read())
    assert (method, body) == (b"POST", b"body")  # the body waited for a connection
    up.send(ok())
    assert parse_responses(c.read())[0][0] == 200
    assert p.counter("cluster.web.upstream_rq_retry") == 2
    # Envoy counts a request once it is attached to a connected connection: the refused attempts are
    # upstream_rq_pending_failure_eject, not requests (before: upstream_rq_total 3).
    assert p.counter("cluster.web.upstream_rq_total") == 1
    assert p.counter("cluster.web.upstream_rq_pending_failure_eject") == 2


def test_a_request_cancelled_while_pending_is_counted_cancelled_not_as_a_request():
    p = Proxy(basic_config())
    c = p.client()
    c.send(GET)
    up = p.upstream()  # connecting
    c.reset()
    assert p.counter("cluster.web.upstream_rq_cancelled") == 1
    assert p.counter("cluster.web.upstream_rq_total") == 0
    assert p.ctx.stats.gauge("cluster.web.upstream_rq_active") == 0
    up.accept()
    assert p.counter("cluster.web.upstream_rq_total") == 0


def test_retries_are_bounded():
    p = Proxy(
        basic_config(
            routes="""
                      - match: {prefix: "/"}
                        route: {cluster: web, retry_policy: {num_retries: 1}}"""
        )
    )
    c = p.client()
    c.send(GET)
    p.upstream().refuse()
    p.upstream().refuse()
    assert p.new_upstream_count() == 0
    assert parse_responses(c.read())[0][0] == 503
    assert p.counter("cluster.web.upstream_rq_retry") == 1


def test_round_robin_spreads_new_connections_over_endpoints():
    cfg = basic_config().replace(
        "endpoints: [{host: 127.0.0.1, port: 9080}]",
        "endpoints: [{host: 127.0.0.1, port: 9080}, {host: 127.0.0.2, port: 9081}]",
    )
    p = Proxy(cfg)
    a, b = p.client(), p.client()
    a.send(GET)
    b.send(GET)
    assert [u.address for u in (p.upstream(), p.upstream())] == [("127.0.0.1", 9080), ("127.0.0.2", 9081)]


def test_upstream_that_closes_after_response_is_not_reused():
    p = Proxy(basic_config())
    c = p.client()
    c.send(GET)
    up = p.upstream().accept()
    up.read()
    up.send(ok(extra=b"connection: close\r\n"))
    assert parse_responses(c.read())[0][0] == 200
    c.send(GET)
    assert p.new_upstream_count() == 1


def test_a_response_that_fills_a_slow_clients_buffer_leaves_the_pooled_connection_readable():
    """Issue 13 defect 9: the last upstream read completes the exchange (its stream is closed) and
    pushes the client's write buffer over its high watermark; the router's pause must not land on
    the closed stream, or the idle connection goes back to the pool unreadable and the next request
    on it hangs until the route timeout."""
    cfg = basic_config().replace(
        "    filter_chains:", "    per_connection_buffer_limit_bytes: 1024\n    filter_chains:"
    )
    p = Proxy(cfg)
    slow = p.client()
    slow.send(GET)
    up = p.upstream().accept()
    up.read()
    up.send(ok(b"x" * 4000))  # one read: the whole response, past the 1 KiB buffer
    assert up.conn.reading_enabled
    other = p.client()
    other.send(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
    assert p.new_upstream_count() == 0  # the idle pooled connection is reused ...
    assert parse_requests(up.read())[0][1] == b"/next"
    up.send(ok(b"next"))  # ... and its answer is read
    assert parse_responses(other.read()) == [(200, {b"content-length": b"4"}, b"next")]
    assert parse_responses(slow.read())[0][2] == b"x" * 4000


def test_a_request_waiting_for_the_connection_is_not_sent_on_it_after_the_upstreams_close():
    """The upstream answers and closes in one go, without `connection: close` (RFC 9112 9.6). The
    request waiting for the only connection allowed went out on it as soon as the response ended,
    before the close that came with it was read: a 503 (`upstream reset`). It goes out on a new
    connection instead (Envoy attaches waiting requests once the read event is handled)."""
    p = Proxy(basic_config(cluster_extra="\n    max_connections: 1"))
    a, b = p.client(), p.client()
    a.send(GET)
    up = p.upstream().accept()
    b.send(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(parse_requests(up.read())) == 1
    up.send(ok(b"A"), end_stream=True)
    assert parse_responses(a.read())[0][2] == b"A"
    assert parse_responses(b.read()) == []
    fresh = p.upstream().accept()
    assert parse_requests(fresh.read())[0][1] == b"/b"
    fresh.send(ok(b"B"))
    assert parse_responses(b.read())[0][2] == b"B"
    assert p.stats_add_up()


def test_a_connect_failure_that_frees_a_max_connections_slot_serves_the_queue():
    """A request queued at max_connections gets a connection once a failed connect frees a slot, as
    after any other close of a pool connection (Envoy's pool: "if we have pending streams and we just
    lost a connection we should make a new one"). It waited until its route timeout, or for ever."""
    cfg = basic_config(cluster_extra="\n    max_connections: 2").replace(
        "endpoints: [{host: 127.0.0.1, port: 9080}]",
        "endpoints: [{host: 127.0.0.1, port: 9080}, {host: 127.0.0.2, port: 9081}]",
    )
    p = Proxy(cfg)
    a, b, c = p.client(), p.client(), p.client()
    a.send(GET)
    busy = p.upstream().accept()  # 9080, serving a
    assert parse_requests(busy.read())
    b.send(GET)
    failing = p.upstream()  # 9081: the second connection the breaker allows
    c.send(GET)  # 9080 again: its connection is busy and the breaker is full, so c waits
    assert p.new_upstream_count() == 0
    failing.refuse()
    assert parse_responses(b.read())[0][0] == 503
    up = p.upstream().accept()  # the slot the failed connect freed
    assert up.address == ("127.0.0.1", 9080)
    assert parse_requests(up.read())
    up.send(ok(b"C"))
    assert parse_responses(c.read())[0][2] == b"C"
