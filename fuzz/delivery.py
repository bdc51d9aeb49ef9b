"""Oracle: a response the proxy read in full from an HTTP/1.1 upstream reaches its client in full.

An upstream that sent a complete response (its own h11 parser says so: Content-Length, chunked, or
a body that runs to the close, RFC 9112 6.3) and whose every byte, and end of stream if it sent one,
the proxy read, has given the proxy all it needs. A client that finished sending its request and
then saw its stream reset or its connection closed instead of that response lost it
(`response_lost`, judged against the pool connection). The proxy read an upstream's close as a
reset this way: every body that ran to the close was cut off at the client.

Left out, as causes a client or the configuration can give: the client's own reset or close, HTTP/2
errors other than CANCEL and INTERNAL_ERROR (a GOAWAY or stream error the client provoked), sessions
where any timeout fired (a timeout may end a stream whose response waits in the proxy), responses the
proxy's codec refused (the h1_client harness judges what a codec may refuse), exchanges of an HTTP/2
client the fuzzer's raw bytes tainted (they may be what the proxy ended the connection for, with a
GOAWAY that peer no longer reads: its record shows a bare close), HTTP/1.1 responses queued behind
an earlier exchange of the same connection that ended without its response (responses go out in
order, and a cut one can only end the connection: the later ones go with it), TLS upstreams (a close
without close_notify may be a truncation), exchanges that reached more than one upstream, and
sessions whose write probe drops what the proxy writes (network_filter's probe modes).
"""

from .oracles import InvariantViolation

_PROXY_SIDE_REASONS = ("connection closed", "CANCEL", "INTERNAL_ERROR")


def check_responses_delivered(session) -> None:
    if not session.check_bytes:
        return  # a write probe drops what the proxy writes (fuzz/targets/network_filter.py)
    session.peers.observe()
    if any("timeout" in name and value for name, value in session.ctx.stats.counters.items()):
        return
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
        if getattr(session.peers.clients[ex.downstream], "tainted", False):
            continue
        up = ex.upstreams[0]
        if up.protocol != "HTTP/1.1" or up.response is None or not up.response.complete:
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


def _pool_codec(conn):
    """The client codec of the pooled HTTP connection `conn` (its read filter holds the pool connection)."""
    for active in conn.filter_manager.read_filters:
        pc = getattr(active.filter, "pc", None)
        if pc is not None:
            return pc.codec
    return None
