"""Timeouts as Envoy documents them, and what ours changes (docs/semantics.md).

HCM stream_idle_timeout (http_connection_manager.proto: "the amount of time that the connection
manager will allow a stream to exist with no upstream or downstream activity", default 5 min): a
stream idles out only after that long without headers, body or trailers moving. The model, on what
an HTTP/1.1 client sent and the proxy read: a request answered with a 408 before its response began
was idle; so the last of its bytes the proxy had read (Message.read_ms) came no later than
stream_idle_timeout_ms before the 408, unless the HCM's request_timeout_ms, counted from the request
head, explains it (model_stream_idle_timeout_early).

Cluster connect_timeout (envoy/config/cluster/v3/cluster.proto, Cluster.connect_timeout: "The timeout
for new network connections to hosts in the cluster", default 5 s): a new upstream connection is
established when its transport socket raises Connected, after the TLS handshake on a TLS cluster
(Envoy's ClientConnectionImpl disarms the connect timer on Connected). The model: an upstream
connection neither Connected nor closed connect_timeout_ms after it was opened is late
(model_connect_timeout_late), whether TCP or the handshake is what never finished.

tcp_proxy idle_timeout (envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto, TcpProxy):
  "The idle timeout is defined as the period in which there are no bytes sent or received on either
  the upstream or downstream connection"; 0 disables it (ours: unset too). Counter idle_timeout.
  The model, on what the peers saw (bytes the proxy read from a peer, bytes a peer read from it):
    - never early: a connection closed by the idle timeout saw no byte move for idle_ms before;
    - never late: once the upstream is connected and no byte is buffered anywhere, the connection
      is closed by idle_ms after the last byte the proxy read (or the upstream connect: Envoy arms
      the timer with the upstream connection), and by 2 x idle_ms after the last byte a peer read
      from it (docs/semantics.md: ours notices flushed bytes only when the timer expires).
"""


def late_deadline(idle_ms: int, connected_ms: int, last_read_ms: int, last_flush_ms: int) -> int:
    """The latest time a quiet tcp_proxy connection may still be open."""
    return max(connected_ms + idle_ms, last_read_ms + idle_ms, last_flush_ms + 2 * idle_ms)


def reads(conn) -> int:
    """Bytes the proxy read from the peer of `conn`."""
    return len(conn.io.sent) - len(conn.io.inbound)


def flushes(conn) -> int:
    """Bytes the peer of `conn` read from the proxy."""
    return len(conn.io.received)


def quiet(conn) -> bool:
    """Nothing waits anywhere on `conn`: not in its buffers, not queued at its peer."""
    return not (len(conn.read_buffer) or len(conn.write_buffer) or conn.io.inbound)


DEFAULT_CONNECT_TIMEOUT_MS = 5000  # Envoy's Cluster.connect_timeout default
DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000  # Envoy's HttpConnectionManager.stream_idle_timeout default


def connect_timeouts_by_endpoint(bootstrap) -> dict:
    """(host, port) -> the longest connect_timeout_ms of the clusters listing that endpoint."""
    out: dict = {}
    for cluster in bootstrap.clusters:
        ms = cluster.connect_timeout_ms if cluster.HasField("connect_timeout_ms") else DEFAULT_CONNECT_TIMEOUT_MS
        for e in cluster.endpoints:
            out[(e.host, e.port)] = max(ms, out.get((e.host, e.port), 0))
    return out


def check_connect_timeouts(timeouts: dict, upstreams, now_ms: int) -> None:
    """`upstreams`: (connection, opened at ms) of every upstream connection the proxy opened."""
    from fuzz.oracles import InvariantViolation

    for conn, opened_ms in upstreams:
        limit = timeouts.get(tuple(conn.remote_address))
        if limit is None or conn.connected or conn.state.value == "Closed" or now_ms <= opened_ms + limit:
            continue
        raise InvariantViolation(
            "model_connect_timeout_late",
            f"upstream connection to {conn.remote_address} opened at {opened_ms} ms is still not Connected "
            f"({'TCP up, handshake unfinished' if conn.socket_connected else 'TCP connecting'}) at {now_ms} ms",
            judged="proxy/upstream/cluster.py:_UpstreamConnectionTracker._on_connect_timeout",
            expected=f"closed by {opened_ms + limit} ms (connect_timeout_ms {limit})",
            observed=conn.state.value,
        )


def check_stream_idle_timeouts(exchanges, hcm_config_of) -> None:
    """`hcm_config_of(downstream index)`: the HttpConnectionManager configuration serving it, or None."""
    from fuzz.oracles import InvariantViolation

    for ex in exchanges:
        got, req = ex.response, ex.request
        if ex.protocol != "HTTP/1.1" or got is None or got.status != 408:
            continue
        config = hcm_config_of(ex.downstream)
        idle = config.stream_idle_timeout_ms if config is not None else 0
        at, read = got.final_head_ms, req.read_ms  # not a 100 Continue's time
        if not idle or at is None or read is None or req.started_ms is None or read >= at:
            continue
        timeout = config.request_timeout_ms
        if timeout and at >= req.started_ms + timeout:
            continue  # the whole-request deadline may be what answered
        if at - read < idle:
            raise InvariantViolation(
                "model_stream_idle_timeout_early",
                f"client {ex.downstream} request {ex.id}: a 408 at {at} ms, though the proxy had read the request's "
                f"bytes up to {read} ms: {at - read} ms of quiet, stream_idle_timeout_ms is {idle}",
                judged="proxy/http/conn_manager.py:ActiveStream.active",
                expected=f"no idle timeout before {read + idle} ms",
                observed=f"408 at {at} ms",
            )


def check_gateway_timeout_explained(ex, hcm, route_timeouts: frozenset, local, what: str) -> None:
    """Where a 504 the proxy makes comes from: the route timeout (RouteAction.timeout, "0 disables";
    proxy/http/filters/router.py), armed once the proxy has the whole request, so no earlier than the
    client sent its end; or the HCM's request_timeout_ms (504 once the request is whole), counted from
    the request head. A request that reached an upstream and got a 504 no upstream sent and no
    configured local reply has (`local`), at a time when neither timer could have run out (every
    route timeout 0 or longer than the time since the client ended the request; request_timeout_ms 0
    or longer than the time since it sent the head), got a timeout it was never given
    (model_gateway_timeout_unexplained). `route_timeouts`: the timeout_ms of every route that may
    have sent it to the clusters it reached (fuzz.models.routing.route_timeouts)."""
    from fuzz.oracles import InvariantViolation

    got, req = ex.response, ex.request
    if got is None or got.status != 504 or any(status == 504 for status, _ in local) or not route_timeouts:
        return
    if any(up.cluster is None or (up.response is not None and up.response.status == 504) for up in ex.upstreams):
        return  # an upstream's own 504 may be what the client got
    at = got.final_head_ms
    if at is None or req.started_ms is None:
        return
    if req.ended_ms is not None and any(t and at - req.ended_ms >= t for t in route_timeouts):
        return
    whole = hcm.request_timeout_ms
    if whole and at - req.started_ms >= whole:
        return
    raise InvariantViolation(
        "model_gateway_timeout_unexplained",
        f"{what}: a 504 at {at} ms; the client ended the request at {req.ended_ms} ms, its routes' timeouts "
        f"are {sorted(route_timeouts)} ms (0: none) and request_timeout_ms is {whole} (0: none)",
        judged="proxy/http/filters/router.py:Router._start_timeout",
        expected="no timeout 504 before a configured timeout ran out",
        observed=f"504 at {at} ms",
    )


def check_request_timeout_status(ex, hcm, local, what: str, upstream_spoke: bool) -> None:
    """RFC 9110 15.5.9: 408 Request Timeout says the server "did not receive a complete request message
    within the time that it was prepared to wait". Ours (conn_manager.py, request_timeout_ms) answers
    408 while the request is incomplete and 504 once it is whole, however it ended (body, or trailers).
    So an HTTP/1.1 request whose every byte the proxy had read (Message.read_ms, after the client sent
    its end) gets no 408 later, unless the stream idle timeout explains it (Envoy's 408 for an idle
    stream: nothing moved for stream_idle_timeout_ms since), a configured local reply has status 408
    (`local`: the models' (status, body) local replies), or an upstream may have sent it."""
    from fuzz.oracles import InvariantViolation

    got, req = ex.response, ex.request
    if ex.protocol != "HTTP/1.1" or got is None or got.status != 408 or upstream_spoke:
        return
    if any(status == 408 for status, _ in local) or not req.complete:
        return
    at = got.final_head_ms
    if at is None or req.read_ms is None or req.ended_ms is None or req.read_ms < req.ended_ms or req.read_ms >= at:
        return  # not known that the proxy had the whole request before the 408
    idle = hcm.stream_idle_timeout_ms if hcm.HasField("stream_idle_timeout_ms") else DEFAULT_STREAM_IDLE_TIMEOUT_MS
    if idle and at - req.read_ms >= idle:
        return
    raise InvariantViolation(
        "model_408_for_a_complete_request",
        f"{what}: a 408 at {at} ms, though the proxy had read the whole request by {req.read_ms} ms "
        f"(stream_idle_timeout_ms {idle} cannot explain it)",
        judged="proxy/http/conn_manager.py:ActiveStream._on_request_timeout",
        expected="504 (the request was complete) or a response",
        observed=f"408 at {at} ms",
    )
