"""Liveness at quiescence: once a session has settled (fuzz/settle.py), whatever is still in flight
must be waiting for something that will come. What a proxy user relies on:

- every request the client finished sending gets exactly one outcome it can see: a response, a
  reset or a local reply (a request the client has not finished may wait for it, until the
  request timeout when one is configured);
- no byte waits inside the proxy while nothing will move it: no connection is left read-disabled
  with nobody to re-enable it (an idle pooled connection least of all: the next request on it
  would hang until its route timeout), no read buffer holds bytes that the filter chain could take,
  no TLS socket holds records it received after its handshake while the filter chain reads;
- no request waits in a pool queue while the pool could serve it, none stays stopped in a filter
  chain, none outlives its route or request timeout (Envoy's documented timeouts: what "will wake
  it" means here);
- HTTP/2 flow control, connection and stream: every DATA byte received was credited back once
  its owner consumed it, and nothing waits for a window that is open;
- nothing an upstream connection's codec produced stays inside it: bytes it has ready to send (a
  WINDOW_UPDATE for credit the router gave back as its client caught up, a SETTINGS ACK) are written
  at the end of the event that made them, since no later event need come (an upstream out of window
  waits for that very frame). A downstream client can always prompt the proxy (a new stream, a
  PING), so frames held for it are not judged here.

The only waits that are not stalls are those on the peers themselves: a client that has not
finished its request, an HTTP/2 client whose window for the response is shut, and requests queued
behind connections that those hold; and with a stream idle timeout (Envoy's stream_idle_timeout,
5 min by default) even those are waits for a timer that must end them. `find_stall` returns
the first stall it sees as (invariant name, detail); the names say where things stopped, so triage
groups stalls by place. It reads the proxy's own state, the way Envoy's integration tests read
stats and connection state once the dispatcher is idle.
"""

from typing import TYPE_CHECKING, NamedTuple
from weakref import WeakKeyDictionary

from proxy.event import Timer
from proxy.http._h1_state import Response
from proxy.http.conn_manager import HttpConnectionManager
from proxy.network.connection import State
from proxy.network.filters.tcp_proxy import TcpProxyFilter

from . import pool_queue_order
from .flow_control import check_h2_windows
from .oracles import InvariantViolation
from .peers import H1

if TYPE_CHECKING:
    from .session import Session  # which imports this module

# Stream idle timeouts up to this long are run out by settling (Envoy's default is 5 min); a longer
# one is left alone (it may be up to a day).
IDLE_JUDGED_MS = 3_600_000


class Stall(NamedTuple):
    """Something in flight that no peer moves: `timer` when a proxy timer armed for it should move it
    (settling lets time run to it), else a stall as it stands. `due`: when that timer must have
    ended it (settling never jumps past it unchecked). `slow` marks a timer wait not worth running
    time for (a throttle releasing a few bytes a second, a day-long idle timeout)."""

    name: str
    detail: str
    timer: bool = False
    slow: bool = False
    due: int | None = None


def _timeout_wait(name: str, detail: str, now: int, since: int, timeout: int, slow: bool = False) -> Stall:
    """A wait that the timeout `timeout` armed at `since` must end: a timer wait until it is due, a
    stall once it is overdue (its timer was never armed, or did nothing)."""
    due = since + timeout
    if now > due:
        return Stall(name, f"{detail}: overdue by {now - due} ms (timeout {timeout} ms)")
    return Stall(name, detail, timer=True, slow=slow, due=due)


def check(session) -> None:
    """Raise the first stall left in a settled session (fuzz/settle.py judged the timer waits), then
    check HTTP/2 window accounting."""
    stall = find_stall(session)
    if stall is not None and not stall.timer:
        raise InvariantViolation(stall.name, stall.detail)
    for label, codec, owners in h2_codecs(session):
        check_h2_windows(label, codec)
        for sid, st in codec._streams.items():
            if st.unconsumed and sid not in owners:
                raise InvariantViolation(
                    "h2_window_not_credited",
                    f"{label} stream {sid}: its owner is done with it, {st.unconsumed} bytes "
                    f"it was given were never consumed (the connection window shrinks for good)",
                )


# ------------------------------------------------------------------------------ the proxy's parts
def pool_connections(ctx) -> dict:
    """id(upstream Connection) -> PoolConnection, for every live pooled HTTP connection."""
    manager = ctx.shared.get("http_pools")
    if manager is None:
        return {}
    return {id(pc.conn): pc for pool in manager.pools.values() for pc in pool.connections}


def pools(ctx) -> list:
    manager = ctx.shared.get("http_pools")
    return list(manager.pools.values()) if manager is not None else []


def read_filter(conn, kind):
    for active in conn.filter_manager.read_filters:
        if isinstance(active.filter, kind):
            return active.filter
    return None


def managers(session):
    """(downstream socket, HttpConnectionManager) for every open downstream HTTP connection."""
    for sock in session.downstream:
        conn = sock.conn
        if conn is not None and conn.state is not State.CLOSED:
            hcm = read_filter(conn, HttpConnectionManager)
            if hcm is not None and hcm.codec is not None:
                yield sock, hcm


def inner_codec(codec):
    return getattr(codec, "_inner", None) or codec


def h2_codecs(session):
    """(label, codec, ids of the streams its owner still has) of every HTTP/2 codec of the proxy on an
    open connection."""
    for _, hcm in managers(session):
        codec = inner_codec(hcm.codec)
        if hasattr(codec, "_conn") and not codec._dead:
            yield f"downstream {hcm.conn!r}", codec, {sid for sid, s in hcm.streams.items() if not s.ended}
    for pc in pool_connections(session.ctx).values():
        if pc.protocol == "http2" and pc.conn.state is not State.CLOSED and not pc.codec._dead:
            yield f"upstream {pc!r}", pc.codec, {s.stream_id for s in pc.active}


# ----------------------------------------------------------------------------------- the stalls
def find_stall(session) -> Stall | None:
    """The first stall of a session's current state; if there is none, the timer wait due first
    (Stall.timer), a slow one last; None when nothing is in flight but waits on the peers."""
    pcs = pool_connections(session.ctx)
    found = [
        _connection_stall(sock.conn, "downstream", session, pcs) for sock in session.downstream if sock.conn is not None
    ]
    found += [_connection_stall(conn, "upstream", session, pcs) for conn in session.network.opened]
    found += [
        _stream_stall(hcm, stream, session)
        for _, hcm in managers(session)
        for stream in list(hcm.streams.values())
        if not stream.ended
    ]
    found += [_tcp_proxy_partner_stall(sock.conn) for sock in session.downstream if sock.conn is not None]
    found += [_tcp_proxy_end_stall(sock.conn) for sock in session.downstream if sock.conn is not None]
    found += [_end_not_flushed_stall(sock.conn, "downstream") for sock in session.downstream if sock.conn is not None]
    found += [_end_not_flushed_stall(conn, "upstream") for conn in session.network.opened]
    found += [_client_stall(session)] + [_pool_stall(pool) for pool in pools(session.ctx)]
    found += [_upstream_window_stall(pc) for pc in pcs.values()]
    found += [_orphaned_upstream_stall(pc) for pc in pcs.values()]
    found += [_unsent_output_stall(f"upstream {pc!r}", pc.conn, pc.codec) for pc in pcs.values()]
    found = [stall for stall in found if stall is not None]
    definite = [stall for stall in found if not stall.timer]
    if definite or not found:
        return definite[0] if definite else None
    return min(found, key=lambda stall: (stall.slow, stall.due if stall.due is not None else float("inf")))


def _upstream_window_stall(pc):
    """An HTTP/2 upstream stream whose response body was delivered and never consumed while its
    router did not pause it: the upstream's window for it stays shut."""
    if pc.protocol != "http2" or pc.conn.state is State.CLOSED or pc.codec._dead:
        return None
    for stream in pc.active:
        st = pc.codec._streams.get(stream.stream_id) if stream.stream_id is not None else None
        if st is not None and st.unconsumed and not stream._disabled:
            return Stall(
                "h2_window_not_credited",
                f"upstream {pc!r} stream {stream.stream_id}: {st.unconsumed} "
                f"response bytes delivered and never consumed, not paused",
            )
    return None


def unsent_output(codec) -> int:
    """Bytes a codec has ready that its owner has not taken (data_to_send) yet: HTTP/2 frames the h2
    connection queued (and the codec's own), an HTTP/1.1 codec's serialised output."""
    codec = inner_codec(codec)
    if getattr(codec, "close_unflushed", False):
        return 0  # it gave up on the peer: nothing more goes out
    h2_conn = getattr(codec, "_conn", None)
    if h2_conn is not None:
        return len(h2_conn._data_to_send) + len(codec._extra)
    return len(getattr(codec, "_out", b""))


def _unsent_output_stall(where: str, conn, codec):
    # A connection still connecting writes nothing yet: its preface waits for the connect, whose end
    # the connect-timeout model and the pool-queue checks judge.
    if conn.state is not State.OPEN or not conn.connected or codec is None:
        return None
    n = unsent_output(codec)
    if n:
        return Stall(
            "codec_output_unsent",
            f"{where}: {n} bytes its codec made ready were never written to the connection, and no event is due to",
        )
    return None


def _connection_stall(conn, side: str, session, pcs):
    if conn.state is not State.OPEN or (conn.is_client and not conn.connected):
        return None
    sock = conn.io
    waiting = len(sock.inbound) + (sock.inbound_end and not sock._end_delivered)
    if len(conn.read_buffer) and conn._filter_chain_wants_data():
        return Stall(
            "stall_bytes_buffered_reads_enabled",
            f"{side} {conn!r}: {len(conn.read_buffer)} bytes in its read buffer, reads enabled, nobody takes them",
            timer=filter_timer_armed(conn),
            slow=True,
        )
    if waiting and conn.reading_enabled:
        return Stall(
            "stall_input_not_delivered",
            f"{side} {conn!r}: reads enabled but {len(sock.inbound)} bytes the peer sent are never read",
        )
    held = _tls_input_held(conn)
    if held:
        return Stall(
            "stall_tls_input_not_decrypted",
            f"{side} {conn!r}: handshake done, reads enabled, but {held} bytes the peer sent wait in its TLS "
            "socket and are never decrypted for the filters",
        )
    if not conn.read_disable_count:
        return None
    holder = _read_disable_holder(conn, side, session, pcs)
    if holder is None:
        return None  # held on behalf of a wait on a peer
    return holder._replace(
        detail=f"{side} {conn!r} read-disabled ({holder.detail}); {len(sock.inbound)} bytes from the peer wait"
    )


def _tls_input_held(conn) -> int:
    """Bytes a connection's TLS transport socket took off the wire after its handshake and holds,
    still encrypted or decrypted but not handed on, while the filter chain reads: a record that came
    in the same read as the handshake's last flight must reach the filters without another read."""
    ts = conn.transport_socket
    if getattr(ts, "protocol", "") != "tls" or not ts.handshaken or ts.failed or ts.eof_delivered:
        return 0
    if not conn._filter_chain_wants_data():
        return 0
    return ts.incoming.pending + ts.obj.pending()


def filter_timer_armed(conn) -> bool:
    """A network filter before the terminal one holds the bytes and has a timer armed that will move
    them (the fault filter's delay or throttle window)."""
    return any(_timer_armed(active.filter) for active in conn.filter_manager.read_filters[:-1])


def _tcp_proxy_partners(conn, session) -> list:
    """The connections on the other side of `conn`'s tcp_proxy: its upstream, or the downstream
    connections relaying to it."""
    up = conn.stream_info.get("upstream_connection")
    if up is not None:
        return [up]
    return [
        s.conn
        for s in session.downstream
        if s.conn is not None and s.conn.stream_info.get("upstream_connection") is conn
    ]


def _tcp_proxy_partner_stall(conn):
    """A tcp_proxy side left open after its partner closed: Envoy's TcpProxy closes the downstream on
    any upstream close event (FlushWrite) and the upstream on any downstream one, so nothing is left
    to serve it; it holds a socket and its peer's further bytes go nowhere. Only a side whose two
    directions have both ended is let be: it closes itself once its peer takes what it holds."""
    if read_filter(conn, TcpProxyFilter) is None:
        return None
    upstream = conn.stream_info.get("upstream_connection")
    if upstream is None:
        return None
    for side, this, other in (("downstream", conn, upstream), ("upstream", upstream, conn)):
        if (
            other.state is State.CLOSED
            and this.state is State.OPEN
            and not (this.read_end_stream and this.write_end_stream)
        ):
            ended = "read" if this.read_end_stream else "write" if this.write_end_stream else "no"
            return Stall(
                "stall_tcp_proxy_partner_closed",
                f"tcp_proxy {side} {this!r} still open ({ended} direction ended) after its partner {other!r} "
                f"closed ({other.close_event}): nothing will serve or close it",
            )
    return None


def _tcp_proxy_end_stall(conn):
    """An end of stream tcp_proxy read and never relayed: Envoy's TcpProxy passes each side's
    end_stream on with its last byte (onDownstreamData / onUpstreamData write with end_stream: a
    half-close reaches the other peer), which a client that half-closes to say "that was all" and
    an upstream that answers once it read to the end rely on. Judged once every byte before the
    end left the side that read it (its read buffer empty, its filters reading: no filter holds
    them) while the other side is open and its write side not ended; a write filter still holding
    the downstream's output (fault's throttle) or a filter timer armed is a wait."""
    if read_filter(conn, TcpProxyFilter) is None:
        return None
    upstream = conn.stream_info.get("upstream_connection")
    if upstream is None or not upstream.connected:
        return None
    for side, this, other in (("downstream", conn, upstream), ("upstream", upstream, conn)):
        if (
            this.state is State.OPEN
            and other.state is State.OPEN
            and this.read_end_stream
            and not len(this.read_buffer)
            and this._filter_chain_wants_data()
            and not other.write_end_stream
            # the network_filter harness's write probe dropped some of `other`'s output, maybe the
            # chunk carrying the relayed end: the harness withheld it, not the proxy
            and not getattr(other.io, "reads_altered", False)
        ):
            held = other.filter_manager.holds_writes() or filter_timer_armed(this)
            return Stall(
                "stall_tcp_proxy_end_not_relayed",
                f"tcp_proxy {side} {this!r} read its peer's end of stream and holds no byte, but "
                f"{other!r} never ended its write side: its peer waits for an end that will not come",
                timer=held,
            )
    return None


def _end_not_flushed_stall(conn, side: str):
    """A write side ended with nothing left to send that never goes out: every byte was taken (the
    peers read everything before liveness is judged), no write filter holds any, yet the end of stream
    is not on the wire (for TLS: the close_notify, then the FIN), so the peer waits for it for ever."""
    if conn.state is not State.OPEN or not conn.connected or not conn.write_end_stream:
        return None
    if len(conn.write_buffer) or conn.filter_manager.holds_writes() or conn.output_end_stream:
        return None
    return Stall(
        "stall_end_of_stream_not_flushed",
        f"{side} {conn!r}: its write side ended and nothing is left to send, but the end never went out",
    )


def _handshake_awaits_client(conn) -> bool:
    """A downstream connection terminating TLS whose handshake waits for the client's next bytes (a
    client that connected and sent no ClientHello, or only part of one)."""
    ts = getattr(conn, "transport_socket", None)
    if ts is None or getattr(ts, "protocol", "") != "tls":
        return False
    return not ts.handshaken and not ts.failed and conn.state is State.OPEN


def filter_timers_due(session) -> int | None:
    """The latest deadline of the timers the network filters of the session's connections not yet
    closed have armed (a fault delay or throttle window), or None when none is armed. A closing
    connection counts: it still flushes its writes through those filters (a throttled response
    before the close), as the stall that sends settling here saw."""
    conns = [sock.conn for sock in session.downstream if sock.conn is not None] + list(session.network.opened)
    deadlines = [
        v.deadline
        for conn in conns
        if conn.state is not State.CLOSED
        for active in conn.filter_manager.read_filters + conn.filter_manager.write_filters
        for v in getattr(active.filter, "__dict__", {}).values()
        if isinstance(v, Timer) and v.enabled and v.deadline is not None
    ]
    return max(deadlines, default=None)


def _timer_armed(obj) -> bool:
    """`obj` (a filter) has a timer of its own armed."""
    return any(isinstance(v, Timer) and v.enabled for v in getattr(obj, "__dict__", {}).values())


def _read_disable_holder(conn, side: str, session, pcs):
    """Stall(name, why, timer) of a read-disable nothing will release, or None when a wait on a peer
    holds it."""
    if read_filter(conn, TcpProxyFilter) is not None or side == "upstream" and id(conn) not in pcs:
        # tcp_proxy pauses one side for the other's write watermarks, which a filter there may hold
        # (the fault throttle's held writes): that filter's timer releases this side too.
        partners = _tcp_proxy_partners(conn, session)
        if any(p.is_client and p.is_open and not p.connected for p in partners):
            # The downstream is read-disabled until its upstream is Connected (a TLS handshake too: a
            # black-holed upstream never answers it); the cluster's connect timeout ends that wait.
            return Stall(
                "stall_read_disabled_tcp_proxy", "a tcp_proxy side waits for its upstream to connect", timer=True
            )
        if any(not c.is_client and _handshake_awaits_client(c) for c in [conn] + partners):
            return None  # the client has not finished its TLS handshake: what it holds back waits on it
        timer = any(filter_timer_armed(c) for c in [conn] + partners)
        return Stall(
            "stall_read_disabled_tcp_proxy", "a tcp_proxy side, both peers read everything", timer=timer, slow=True
        )
    if side == "upstream":
        pc = pcs[id(conn)]
        if not pc.active:
            return Stall("stall_read_disabled_idle_pool_connection", f"{pc!r} idle in its pool")
        holders = [s for s in pc.active if s._disabled]
        if holders and all(_response_blocked_by_client(s.user) or _response_awaits_its_turn(s.user) for s in holders):
            return None
        return Stall(
            "stall_read_disabled_upstream",
            f"{pc!r}: " + ("its downstreams read everything" if holders else "none of its streams paused it"),
        )
    hcm = read_filter(conn, HttpConnectionManager)
    holders = (
        [_stream_stall(hcm, s, session) for s in hcm.streams.values() if s.read_disabled and not s.ended]
        if hcm is not None
        else []
    )
    if any(stall is None for stall in holders):
        return None  # a stream waiting on a peer holds it (its body is buffered while it waits)
    if holders and all(stall.timer for stall in holders):
        return Stall("stall_read_disabled_downstream", "held by a stream that waits for a timer", timer=True)
    return Stall("stall_read_disabled_downstream", "no live stream holds it")


def _orphaned_upstream_stall(pc):
    """An upstream exchange still open on its connection while the downstream stream it served has
    ended: nothing will finish or reset it (no client, no timer of that stream), so it holds an HTTP/2
    stream slot or a whole HTTP/1.1 connection for good. Envoy's router resets its upstream request
    when the downstream stream goes (Filter::onDestroy) and when the response completes before the
    request (RFC 9113 8.1: the server's answer ends the exchange; the rest of the upload is abandoned)."""
    if pc.conn.state is State.CLOSED:
        return None
    for stream in pc.active:
        if not stream.closed and _stream_of(stream.user) is None:
            return Stall(
                "stall_upstream_exchange_orphaned",
                f"upstream {pc!r} stream {stream.stream_id}: request "
                f"{'sent' if stream.request_done else 'unfinished'}, response "
                f"{'complete' if stream.response_done else 'unfinished'}, its downstream stream has ended",
            )
    return None


def _stream_of(router):
    """The live downstream stream a router serves, or None."""
    chain = getattr(getattr(router, "decoder_callbacks", None), "chain", None)
    stream = chain.stream if chain is not None else None
    return stream if stream is not None and not stream.ended else None


def _response_blocked_by_client(router) -> bool:
    """The router paused its upstream because its HTTP/2 client's window is shut (the client's choice)."""
    stream = _stream_of(router)
    return stream is not None and _h2_window_shut(stream.hcm, stream.stream_id)


def _response_awaits_its_turn(router) -> bool:
    stream = _stream_of(router)
    return stream is not None and _awaits_its_turn(stream.hcm, stream.stream_id)


def _awaits_its_turn(hcm, stream_id: int) -> bool:
    """HTTP/1.1 pipelining (docs/semantics.md): a response goes out only after every earlier one, so
    while an earlier exchange is unfinished this stream waits on it (its pause too, once its queued
    bytes pass the limit); that exchange's own stall or timer is judged for its stream."""
    for ex in getattr(inner_codec(hcm.codec), "_order", ()):
        if ex.stream_id == stream_id:
            return False
        if ex.wire is not Response.DONE:
            return True  # an earlier response not wholly written
    return False


def _h2_window_shut(hcm, stream_id: int) -> bool:
    codec = inner_codec(hcm.codec)
    conn = getattr(codec, "_conn", None)
    if conn is None or not codec.buffered_outbound(stream_id):
        return False
    try:
        return conn.local_flow_control_window(stream_id) <= 0
    except Exception:  # noqa: BLE001 - h2 forgot the stream: no window to wait for
        return False


def _stream_stall(hcm, stream, session) -> Stall | None:
    """Why an active stream will never end; None when it waits on its client and no stream idle
    timeout is configured to end that wait (Envoy's stream_idle_timeout: with one, it is a timer wait)."""
    stall = _stream_waits(hcm, stream, session)
    idle = getattr(hcm.config, "stream_idle_timeout_ms", 0)
    if stall is not None or not idle:
        return stall
    return _timeout_wait(
        "stall_stream_idle_timeout",
        f"stream {stream.stream_id} on {hcm.conn!r} waits on its client; stream_idle_timeout_ms never ended it",
        session.dispatcher.now_ms(),
        getattr(stream, "_active_ms", stream.start_ms),
        idle,
        slow=idle > IDLE_JUDGED_MS,
    )


def _stream_waits(hcm, stream, session) -> Stall | None:
    """Why an active stream will never end, or None when it waits on its client."""
    now = session.dispatcher.now_ms()
    timeout = hcm.config.request_timeout_ms
    where = (
        f"stream {stream.stream_id} on {hcm.conn!r} ({stream.head.method.decode('latin-1')} "
        f"{stream.head.path[:60].decode('latin-1')})"
    )
    if timeout and now - stream.start_ms > timeout:
        return _timeout_wait("stall_request_timeout", f"{where} still active", now, stream.start_ms, timeout)
    codec = inner_codec(hcm.codec)
    st = getattr(codec, "_streams", {}).get(stream.stream_id) if hasattr(codec, "_conn") else None
    if st is not None and st.unconsumed and not stream.read_disabled:
        return Stall(
            "h2_window_not_credited",
            f"{where}: {st.unconsumed} request body bytes delivered and never "
            f"consumed, reads not paused: the client's window stays shut",
        )
    if not stream.request_complete:
        if timeout:  # the client may take its time, until the request timeout ends the stream
            return _timeout_wait(
                "stall_request_timeout",
                f"{where}: request incomplete, request_timeout_ms never ended it",
                now,
                stream.start_ms,
                timeout,
            )
        return None  # the client has not finished its request: the stream may wait for it
    chain = stream.chain
    router = chain.filters[-1]
    for direction, entries in (("decoding", chain.decoder.entries[:-1]), ("encoding", chain.encoder.entries)):
        for entry in entries:
            if entry.stopped:
                return Stall(
                    "stall_filter_chain",
                    f"{where}: {direction} stopped at {type(entry.filter).__name__} and never resumed",
                    timer=_timer_armed(entry.filter),
                )
    if router.pending is not None:
        return _queued_stall(where, router, now, getattr(stream, "_active_ms", stream.start_ms))
    if _h2_window_shut(hcm, stream.stream_id):
        return None  # the response waits for the client's HTTP/2 window
    if st is not None and codec.buffered_outbound(stream.stream_id):
        return Stall(
            "h2_outbound_stalled",
            f"{where}: {codec.buffered_outbound(stream.stream_id)} response bytes "
            f"wait although the client's window is open",
        )
    if _awaits_its_turn(hcm, stream.stream_id):
        return None  # its response is queued behind an earlier pipelined one
    up = router.upstream
    if up is not None and getattr(up.pc.conn.io, "silent", False):
        # A black-holed upstream (the session's upstream_connect_silent) never answers: only the
        # route timeout or a stream timeout can end the request.
        return Stall(
            "stall_request_without_outcome",
            f"{where}: its upstream never answers and no timeout is armed to end the request",
            timer=_timer_armed(router) or _timer_armed(stream),
        )
    state = (
        "no upstream"
        if up is None
        else f"upstream {up.pc!r} request_done={up.request_done} response_done={up.response_done}"
    )
    return Stall(
        "stall_request_without_outcome",
        f"{where}: the client finished its request and saw no outcome "
        f"({state}, response_started={stream.response_started})",
    )


def _client_stall(session: "Session") -> "Stall | None":
    """A request the client finished sending (its own record: fuzz/peers) with no outcome it can see,
    while the proxy has no stream left that waits for it. Bytes a write filter holds for the client
    (the fault throttle) are an outcome on its way, a slow timer wait while that filter's timer is
    armed (settling does not run time for it alone), and a stall when none is."""
    peers = session.peers
    if not session.check_bytes:
        return None  # a write probe drops what the proxy writes (fuzz/targets/network_filter.py)
    waiting: set[int] = set()  # HTTP/1.1 connections where an earlier request still waits
    held: Stall | None = None  # the first outcome a write filter still holds, its timer armed
    for ex in peers.exchanges:
        if ex.outcome is not None or ex.downstream in waiting:
            continue
        client = peers.clients[ex.downstream]
        sock = session.downstream[ex.downstream]  # the connection's io
        conn = sock.conn
        hcm = read_filter(conn, HttpConnectionManager) if conn is not None else None
        if (
            client is None
            or not client.understood
            or getattr(client, "tainted", False)
            or hcm is None
            or conn is None
            or getattr(client, "_foreign", None)
            or conn.state is State.CLOSED
            or len(conn.read_buffer)
            or sock.inbound
            or getattr(sock, "unsent", 0)
        ):
            # Not judged: the client's record may be wrong (raw bytes of the fuzzer's, a frame of them
            # still open, swallow what the peer sent after them), or the proxy has not read it all yet
            # (the connection's own checks judge that), or the request has not left the client (its TLS
            # handshake is not done: a TLS client on a clear-text chain whose answer a fault delays).
            continue
        stream = hcm.streams.get(ex.stream)
        if not ex.request.complete or (stream is not None and not stream.ended) or _h2_window_shut(hcm, ex.stream):
            if ex.protocol == H1:
                waiting.add(ex.downstream)  # later requests on the connection wait behind it
            continue  # the client is still sending, the proxy's stream is judged, or the client's window is shut
        stall = Stall(
            "stall_request_without_outcome",
            f"client {ex.downstream} finished request {ex.id} ({ex.request.method.decode('latin-1')} "
            f"{ex.request.target[:60].decode('latin-1')}) at {ex.request.ended_ms} ms and saw no outcome; "
            f"the proxy has no stream left for it ({hcm.protocol} stream {ex.stream})",
        )
        if not conn.filter_manager.holds_writes():
            # A network filter before the manager may still hold what the client sent (a fault
            # delay): its timer moves it on, and settling runs time to it.
            return stall._replace(timer=True) if filter_timer_armed(conn) else stall
        write_filters = conn.filter_manager.write_filters
        if not any(_timer_armed(active.filter) for active in write_filters):
            return stall._replace(
                detail=f"{stall.detail}; a write filter holds its bytes and no timer will release them"
            )
        held = held or stall._replace(timer=True, slow=True)
        if ex.protocol == H1:
            waiting.add(ex.downstream)
    return held


def _queued_stall(where: str, router, now: int, since: int) -> Stall | None:
    pending = router.pending
    pool = pending.pool
    if pending not in pool.pending:
        return Stall("stall_pool_queue", f"{where}: the pool no longer holds the request and never answered it")
    if _pool_has_capacity(pool, pending.host):
        return Stall(
            "stall_pool_queue",
            f"{where}: queued while {pool.prefix[:-1]} could serve it ({len(pool.connections)} connections)",
        )
    if router.route is not None and router.route.timeout_ms:
        return _timeout_wait(
            "stall_route_timeout",
            f"{where}: queued behind busy connections, its route timeout never ended it",
            now,
            since,
            router.route.timeout_ms,
        )
    return None  # queued behind connections whose own streams wait on their clients, no timeout


def _pool_has_capacity(pool, host) -> bool:
    """A request for `host` (the load balancer's pick: only its connections serve it, as Envoy's
    per-host pools) could be served: a connection to it has room, or none to it is on its way
    (connecting, or HTTP/2 waiting for the upstream's SETTINGS: its stream limit) and the breaker
    lets the pool open one."""
    mine = [pc for pc in pool.connections if pc.host == host]
    if any(pc.can_take() for pc in mine):
        return True
    connecting = any(pc.state == "connecting" or pc.awaiting_settings for pc in mine)
    held = len(pool.connections) + _held_by_others_while_queued(pool)
    return not connecting and held < pool.cluster.built.max_connections


# The max_connections breaker counts every connection to the cluster, a tcp_proxy's too. A pool reads
# it only on an event of its own (a request, a stream's or a connection's end), as Envoy's
# ConnPoolImplBase::tryCreateNewConnection: a slot another user frees while requests wait on the pool's
# busy connections is taken when one of those frees up, not at once. So a pool is held only to slots
# the others left free all along the wait: the most they held since its queue last was empty.
_OTHERS_WHILE_QUEUED: WeakKeyDictionary = WeakKeyDictionary()


def _held_by_others_while_queued(pool) -> int:
    others = pool.cluster.active_connections - len(pool.connections)
    if not pool.pending:
        _OTHERS_WHILE_QUEUED.pop(pool, None)
        return others
    most = _OTHERS_WHILE_QUEUED[pool] = max(others, _OTHERS_WHILE_QUEUED.get(pool, others))
    return most


def check_pool_queues(session) -> None:
    """After every action (not only at quiescence, where settling's answers would end the streams that
    keep a connection busy and hide it): no request waits in a pool queue while the pool could serve
    it. A stream ending on an HTTP/2 connection frees a slot even while its other streams go on."""
    pool_queue_order.check(pools(session.ctx))
    for pool in pools(session.ctx):
        _held_by_others_while_queued(pool)  # a queue's wait starts at the first check that sees it
        stall = _pool_stall(pool) if pool.pending else None
        if stall is not None:
            raise InvariantViolation(stall.name, stall.detail + " (after an action)")


def _pool_stall(pool):
    for req in pool.pending:
        if getattr(req.user, "done", False):
            return Stall("stall_pool_queue", f"{pool.prefix[:-1]}: a request of a stream that ended still waits")
    for host in dict.fromkeys(req.host for req in pool.pending):
        if _pool_has_capacity(pool, host):
            return Stall(
                "stall_pool_queue", f"{pool.prefix[:-1]}: requests for {host} queued while it could serve them"
            )
    return None
