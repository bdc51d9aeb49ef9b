"""Oracle: a response the proxy read in full from an HTTP/1.1 upstream reaches its client in full;
and no response an upstream sent in full is replaced by the proxy's own 503 (`response_replaced`).

An upstream that sent a complete response (its own h11 parser says so: Content-Length, chunked, or
a body that runs to the close, RFC 9112 6.3) and whose every byte, and end of stream if it sent one,
the proxy read, has given the proxy all it needs. A client that finished sending its request and
then saw its stream reset or its connection closed instead of that response lost it
(`response_lost`, judged against the pool connection). The proxy read an upstream's close as a
reset this way: every body that ran to the close was cut off at the client.

Left out, as causes a client or the configuration can give: the client's own reset or close, HTTP/2
errors other than CANCEL and INTERNAL_ERROR (a GOAWAY or stream error the client provoked), sessions
where any timeout fired (a timeout may end a stream whose response waits in the proxy), clients whose
connection the proxy ended as a flood defence (one that leaves its frames unread), responses the
proxy's codec refused (the h1_client harness judges what a codec may refuse), exchanges of an HTTP/2
client the fuzzer's raw bytes tainted (they may be what the proxy ended the connection for, with a
GOAWAY that peer no longer reads: its record shows a bare close), HTTP/1.1 responses queued behind
an earlier exchange of the same connection that ended without its response (responses go out in
order, and a cut one can only end the connection: the later ones go with it), TLS upstreams (a close
without close_notify may be a truncation), exchanges that reached more than one upstream,
responses whose header or trailer section is larger than the SETTINGS_MAX_HEADER_LIST_SIZE their
HTTP/2 client advertised (RFC 9113 6.5.2: the proxy must not send it; it answers 502 for a head and
resets the stream for trailers, which may carry the status the body depends on, as gRPC's do), and
sessions whose write probe drops what the proxy writes (network_filter's probe modes).
"""

from .oracles import InvariantViolation
from .peers.h2_wire import S_MAX_HEADER_LIST_SIZE

_PROXY_SIDE_REASONS = ("connection closed", "CANCEL", "INTERNAL_ERROR")


def check_responses_delivered(session) -> None:
    if not session.check_bytes:
        return  # a write probe drops what the proxy writes (fuzz/targets/network_filter.py)
    session.peers.observe()
    if any("timeout" in name and value for name, value in session.ctx.stats.counters.items()):
        return
    check_responses_not_replaced(session)
    opened = session.network.opened
    cut: set[int] = set()  # HTTP/1.1 downstream connections where an exchange ended without its response
    for ex in session.peers.exchanges:
        behind_a_cut = ex.downstream in cut
        if ex.protocol == "HTTP/1.1" and ex.outcome in ("reset", "closed"):
            cut.add(ex.downstream)
        if not ex.request.complete or ex.outcome not in ("reset", "closed") or behind_a_cut:
            continue
        if ex.reset_reason not in _PROXY_SIDE_REASONS or len(ex.upstreams) != 1:
            continue
        if getattr(session.peers.clients[ex.downstream], "tainted", False) or flood_defended(session, ex.downstream):
            continue
        up = ex.upstreams[0]
        if up.protocol != "HTTP/1.1" or up.response is None or not up.response.complete:
            continue
        if _over_client_header_list_limit(session.peers.clients[ex.downstream], up.response):
            continue
        conn = opened[up.conn]
        sock = conn.io
        if getattr(sock, "tls", False) or sock.inbound or (sock.inbound_end and not sock._end_delivered):
            continue  # the proxy has not read all of it
        codec = _pool_codec(conn)
        if codec is None or codec.stats.get("h1_protocol_error"):
            continue
        raise InvariantViolation(
            "response_lost",
            f"client {ex.downstream} request {ex.id} ({ex.protocol}): upstream {up.conn} sent a complete "
            f"{up.response.status} response ({len(up.response.body)} body bytes) and the proxy read all of "
            f"it{' and its close' if sock.inbound_end else ''}, but the client saw {ex.outcome} "
            f"({ex.reset_reason}) after {len(ex.response.body) if ex.response else 0} body bytes",
            judged="proxy.upstream.pool_conn.PoolConnection",
            expected=f"the complete {up.response.status} response",
            observed=f"{ex.outcome}: {ex.reset_reason}",
        )


def _over_client_header_list_limit(client, response) -> bool:
    """The response's head or trailers are over the field section size the HTTP/2 client advertised
    (RFC 9113 6.5.2 and 4.3.1: the sum of each field's name and value lengths plus 32)."""
    monitor = getattr(client, "monitor", None)  # HTTP/2 clients: what they announced (fuzz/peers/h2_wire.py)
    limit = monitor.settings.get(S_MAX_HEADER_LIST_SIZE) if monitor is not None else None
    if limit is None:
        return False
    return any(
        sum(len(n) + len(v) + 32 for n, v in section) > limit for section in (response.headers, response.trailers)
    )


def check_responses_not_replaced(session) -> None:
    """`response_replaced`: the client read a 503 of the proxy's own (an upstream failure) although the
    one upstream its request reached did nothing to fail it: that upstream (HTTP/1.1 or HTTP/2) neither
    reset nor closed its connection, nor reset the stream, nor garbled the protocol, and either sent a
    complete response of another status that the proxy read in full, or is an HTTP/2 upstream whose
    graceful GOAWAY named the stream as one it still processes (RFC 9113 6.8: streams up to the last
    stream id complete; the proxy must wait for them, not fail them). Left out: streams above such a
    GOAWAY's last stream id (not processed: the proxy may fail them), TLS upstreams, sessions where any
    timeout fired (as above)."""
    opened = session.network.opened
    for ex in session.peers.exchanges:
        got = ex.response
        if ex.outcome != "response" or got is None or got.status != 503 or len(ex.upstreams) != 1:
            continue
        if session.peers.link_is_a_guess(ex):
            continue  # id-less equal requests (pipelined): the upstream may have seen the other one
        up = ex.upstreams[0]
        conn = opened[up.conn]
        sock = conn.io
        if getattr(sock, "tls", False) or getattr(sock, "reset_sent", False) or sock.inbound_end or sock.inbound:
            continue
        server = session.peers.servers[up.conn] if up.conn < len(session.peers.servers) else None
        # (HTTP/2 upstream peers know when the fuzzer's raw bytes desynchronised them; HTTP/1.1 ones do not.)
        if not server or getattr(server, "tainted", False) or up.stream in getattr(server, "streams_reset", ()):
            continue
        codec = _pool_codec(conn)
        if codec is None or any("error" in name or "flood" in name for name in codec.stats):
            continue
        sent = up.response
        last = getattr(server, "goaway_sent", None)
        answered = sent is not None and sent.complete and sent.status != 503
        promised = last is not None and up.stream is not None and up.stream <= last and sent is None
        if not (answered or promised):
            continue
        what = (
            f"sent a complete {sent.status} response on stream {up.stream} and the proxy read all of it"
            if answered
            else f"named stream {up.stream} in its graceful GOAWAY (last stream id {last}) as one it still processes"
        )
        raise InvariantViolation(
            "response_replaced",
            f"client {ex.downstream} request {ex.id} ({ex.protocol}): upstream {up.conn} ({up.protocol}) {what}, "
            f"and neither reset nor closed anything, but the client got the proxy's 503 {bytes(got.body)[:40]!r}",
            judged="proxy.upstream.pool_conn.PoolConnection",
            expected="the upstream's response" if answered else "the stream kept until the upstream answers it",
            observed="503",
        )


def flood_defended(session, downstream: int) -> bool:
    """The proxy ended the client's connection as a flood defence: an HTTP/2 client that leaves more
    than max_outbound_frames of the proxy's frames unread earns it (Envoy's flood checks; the h2_codec
    harness judges whether each verdict was earned)."""
    from proxy.http.conn_manager import HttpConnectionManager

    from .liveness import read_filter

    conn = session.downstream[downstream].conn
    hcm = read_filter(conn, HttpConnectionManager) if conn is not None else None
    return hcm is not None and any("flood" in name for name in hcm.codec.stats)


def _pool_codec(conn):
    """The client codec of the pooled HTTP connection `conn` (its read filter holds the pool connection)."""
    for active in conn.filter_manager.read_filters:
        pc = getattr(active.filter, "pc", None)
        if pc is not None:
            return pc.codec
    return None
