"""How far a session got towards its upstreams: one outcome per session, the furthest it reached.

    reach_of(session) -> (outcome, why)

A session input tests everything past the router only when a request gets there: an upstream
accepts the proxy's connection, reads a request and answers, and the answer comes back to the
client. Outcomes, furthest first (OUTCOMES):

    answered        a client read a complete response an upstream sent it
    upstream_spoke  an upstream answered a request; its client did not read the answer whole
    request_seen    an upstream read a request (the strict peers linked it to a client's)
    relayed         an upstream read a client's bytes that are no request (a tcp_proxy relay)
    accepted        an upstream connection was accepted and read nothing
    connect_lost    the proxy opened upstream connections and none was accepted (why: timeout,
                    refused, or left pending)
    local_reply     clients sent requests, no upstream connection was opened (why: the statuses)
    no_request      no client sent bytes its own parser read as a request (why: what the first
                    client that sent anything is: tcp_proxy, TLS, HTTP/1.1 or HTTP/2 spoken to
                    the other codec, ...)

`python -m fuzz bench scenario-reach` prints the histogram over random scenarios
(fuzz/mutators/scenarios.py) of empty inputs on the session pool.
"""

OUTCOMES = (
    "answered",
    "upstream_spoke",
    "request_seen",
    "relayed",
    "accepted",
    "connect_lost",
    "local_reply",
    "no_request",
)
REACHED = OUTCOMES[: OUTCOMES.index("accepted") + 1]  # an upstream accepted a connection at least


def _cluster_counter(counters, name: str) -> int:
    return sum(v for k, v in counters.items() if k.startswith("cluster.") and k.endswith("." + name))


def reach_of(session) -> tuple[str, str]:
    """(outcome, why) of a session that has run (Session.run, findings or not)."""
    from .session import peer_of

    exchanges = session.peers.exchanges
    upstream_answers = [ex for ex in exchanges if any(u.response is not None for u in ex.upstreams)]
    if any(ex.outcome == "response" and ex.response is not None and ex.response.complete for ex in upstream_answers):
        return "answered", ""
    if upstream_answers:
        return "upstream_spoke", ""
    if any(ex.upstreams for ex in exchanges):
        return "request_seen", ""
    opened = session.network.opened
    if any(peer_of(c).received for c in opened if c.connected):
        return "relayed", ""
    if any(c.connected for c in opened):
        return "accepted", ""
    counters = session.ctx.stats.counters
    if opened:
        timed_out = _cluster_counter(counters, "upstream_cx_connect_timeout")
        failed = _cluster_counter(counters, "upstream_cx_connect_fail") - timed_out
        why = "timeout" if timed_out else "refused" if failed > 0 else "pending"
        return "connect_lost", why
    if exchanges:
        statuses = sorted({str(ex.response.status) if ex.response else str(ex.outcome) for ex in exchanges})
        return "local_reply", ",".join(statuses[:3])
    return "no_request", _why_no_request(session)


def _why_no_request(session) -> str:
    """What the first client that sent anything was talking to."""
    from .tls_peer import speaks_tls

    sock = next((s for s in session.downstream if s.wire_sent), None)
    if sock is None:
        first = session.downstream[0] if session.downstream else None
        closed = first is not None and (first.conn is None or first.is_closed)
        return "closed at accept" if closed else "nothing sent"
    conn = sock.conn
    if conn.stream_info.get("terminal") == "tcp_proxy":
        return "tcp_proxy"
    if speaks_tls(conn) != bool(sock.tls):
        return "tls mismatch"
    sent = bytes(sock.sent if sock.tls else sock.wire_sent)
    if sent.startswith(b"PROXY ") or sent.startswith(b"\r\n\r\n\x00\r\nQUIT\n"):
        return "proxy header"
    h2 = sent.startswith(b"PRI * HTTP/2.0")
    answer = bytes(sock.received if sock.tls else sock.wire_received)
    if answer.startswith(b"HTTP/1.1 505") and h2:
        return "h2 to an HTTP/1.1 codec"
    if not h2 and answer[3:4] == b"\x04":  # a SETTINGS frame: the proxy spoke HTTP/2
        return "h1 to an HTTP/2 codec"
    return "unparsed " + ("h2" if h2 else "h1" if sent[:1].isalpha() else "bytes")
