"""The HTTP connection manager's idle_timeout, judged at quiescence, as Envoy documents it.

HttpConnectionManager common_http_protocol_options.idle_timeout: "The idle timeout for connections.
The idle timeout is defined as the period in which there are no active requests. When the idle
timeout is reached the connection will be closed. If the connection is an HTTP/2 downstream
connection a drain sequence will occur prior to closing the connection"; counted in
http.<prefix>.downstream_cx_idle_timeout. Ours: idle_timeout_ms, 0 (unset) disables it
(bootstrap.proto HttpConnectionManager).

After a session settled (nothing in flight), every downstream HTTP connection with no active stream
and an idle timeout must be gone once that much more virtual time has passed: a connection left
open then is one whose idle timer was never armed again (connections and their memory pile up,
envoyproxy/envoy#9070). `idle_connection_not_closed`.

A request is active from its first byte in Envoy (its HTTP/1 codec makes the stream at the message's
start), so a connection whose client has begun a request without an outcome yet (read from the
client's record, fuzz/peers) is not idle; one whose client sent part of a request head, the stream idle
timeout (stream_idle_timeout: "the amount of time that the connection manager will allow a stream to
exist with no upstream or downstream activity", default 5 min) bounds it instead: once that much
more virtual time has passed it must be gone (a 408 and a close), else a head that never ends holds
its connection for good (slowloris). `request_head_not_timed_out`. Which heads are still arriving is
read from what the client sent (fuzz/peers/h1_stream.py, h11; for HTTP/2 a header block left open,
walked frame by frame from the preface), not from the proxy.
"""

from proxy.network.connection import State

from fuzz.oracles import InvariantViolation

from .hcm_settings import timeout_ms


ROUNDS = 3


def _grace_left(hcm, now: int) -> int:
    timer = hcm._held_timer
    return timer.deadline - now if timer is not None and timer.enabled else 0


def _head_arriving(session, sock) -> bool:
    """The HTTP/1.1 client on `sock` has sent part of a request head and no more (h11's reading)."""
    client = session.peers.clients[session.downstream.index(sock)]
    requests = getattr(client, "requests", None)
    return requests is not None and client.reads_proxy_output and requests.head_arriving


def _head_still_arriving(session, sock) -> bool:
    """Part of a request head and no more: an HTTP/1.1 client's (h11's reading), or HTTP/2 ending
    inside a header block."""
    return _head_arriving(session, sock) or _h2_block_arriving(sock)


def _request_in_flight(session, sock) -> bool:
    """The client on `sock` has begun a request that has no outcome yet: part of a head (HTTP/1.1, or
    an HTTP/2 header block left open), or a request whose bytes may still be on their way into the
    proxy (a network fault filter's throttle), also one its own parser refused (h11 stops at a bad
    field name; the proxy, which has not seen that field yet, holds a head in flight until the
    filter lets it through)."""
    from fuzz import liveness

    client = session.peers.clients[session.downstream.index(sock)]
    if _h2_block_arriving(sock):
        return True
    if client is None:
        return _unread_client_in_flight(_protocol_bytes(sock)) or _filter_holds_bytes(sock)
    if _head_arriving(session, sock) or any(ex.outcome is None for ex in client.exchanges):
        return True
    return bool(getattr(client, "requests", None) and client.requests.error) and liveness.filter_timer_armed(sock.conn)


def _filter_holds_bytes(sock) -> bool:
    """A network filter before the manager holds bytes of this client with its timer armed (a fault
    throttle or delay): the manager has seen only a prefix of what the client sent, and a prefix of
    anything may begin a request ("P" is a head arriving to an HTTP/1.1 codec), so whatever the whole
    means, the manager's reading of it is not known until the filter lets the rest through."""
    from fuzz import liveness

    return bool(len(sock.conn.read_buffer)) and liveness.filter_timer_armed(sock.conn)


def _unread_client_in_flight(sent: bytes) -> bool:
    """Bytes of a client no peer reads (they looked like HTTP/2) begin a request: a proper prefix of
    the preface ("P" may be a POST's first byte to an HTTP/1.1 codec, which holds it as a head)."""
    from fuzz.peers.h2_wire import PREFACE

    return bool(sent) and len(sent) < len(PREFACE) and PREFACE.startswith(sent)


def _protocol_bytes(sock) -> bytes:
    """All the client on `sock` sent in its application protocol (after a PROXY header)."""
    from fuzz.peers.log import protocol_bytes

    return protocol_bytes(sock, len(sock.sent))


def _h2_block_arriving(sock) -> bool:
    """The HTTP/2 bytes on `sock` end inside a header block, whoever wrote them: a client no peer reads,
    or frames a session wrote onto a strict HTTP/2 client's connection (the client's record knows only
    its own requests). nghttp2, under Envoy, has the stream from the HEADERS frame on."""
    return _h2_header_block_open(_protocol_bytes(sock))


def _h2_header_block_open(sent: bytes) -> bool:
    """HTTP/2 a client sent ends inside a header block: a HEADERS frame without END_HEADERS and no
    CONTINUATION that ends it. That request's head is still arriving (the proxy holds it until the
    stream idle timeout, as a HTTP/1.1 head)."""
    from fuzz.peers.h2_wire import PREFACE

    if not sent.startswith(PREFACE):
        return False
    at, open_block = len(PREFACE), False
    while at + 9 <= len(sent):
        length, kind, flags = int.from_bytes(sent[at : at + 3], "big"), sent[at + 3], sent[at + 4]
        if kind in (0x1, 0x9):  # HEADERS, CONTINUATION
            open_block = not flags & 0x4  # END_HEADERS
        at += 9 + length
    return open_block


def _without_streams(session, timeout: str, client_says) -> list:
    """(socket, HCM) of the open downstream HTTP connections with no stream, the HCM `timeout` set,
    and `client_says(session, sock)` true of what their client sent."""
    from fuzz import liveness

    return [
        (sock, hcm)
        for sock, hcm in liveness.managers(session)
        if timeout_ms(session, sock, hcm, timeout)
        and not hcm.streams
        and not hcm.closed
        and sock.conn.state is State.OPEN
        and client_says(session, sock)
    ]


def check_idle_connections_close(session) -> None:
    from fuzz import settle

    def idle_now():
        return _without_streams(session, "idle_timeout_ms", lambda s, sock: not _request_in_flight(s, sock))

    idle = idle_now()
    # Time runs an idle timeout's length past the last look, a few times over: bytes a fault filter
    # released meanwhile may have made a request on the connection, and its end re-armed the timer.
    for _ in range(ROUNDS):
        if not idle:
            return
        now = session.dispatcher.now_ms()
        # A connection going away with output the client's HTTP/2 window holds closes by its own
        # grace period (the HCM's delayed close), which may end after the idle timeout.
        longest = max(max(timeout_ms(session, s, hcm, "idle_timeout_ms"), _grace_left(hcm, now)) for s, hcm in idle)
        session.dispatcher.advance(longest + 1)
        session.dispatcher.run_posted()
        settle.settle(session)  # the peers read the GOAWAY and see the close
        idle = idle_now()
    now = session.dispatcher.now_ms()
    for sock, hcm in idle:  # Closing: it is going
        timer, limit = hcm._idle_timer, timeout_ms(session, sock, hcm, "idle_timeout_ms")
        if timer is not None and timer.enabled and now < timer.deadline <= now + limit:
            continue  # re-armed by a request that ended in the last round: it will close in time
        raise InvariantViolation(
            "idle_connection_not_closed",
            f"downstream {sock.conn!r} had no active request for {limit + 1} ms "
            f"({ROUNDS} times over), its idle_timeout_ms is {limit}, and it is still open",
            expected="closed (downstream_cx_idle_timeout)",
            observed="open",
        )


def check_request_heads_time_out(session) -> None:
    """A head's stream idle timeout runs from when the manager has its bytes: a network filter before
    it that holds them with its timer armed (a fault delay) has not let the head in yet. So a head is
    judged once it was seen outside such a filter and a stream idle timeout more has passed."""
    from fuzz import liveness, settle

    first_seen: dict = {}
    for _ in range(ROUNDS + 1):
        slow = _without_streams(session, "stream_idle_timeout_ms", _head_still_arriving)
        if not slow:
            return
        now = session.dispatcher.now_ms()
        limits = {sock: timeout_ms(session, sock, hcm, "stream_idle_timeout_ms") for sock, hcm in slow}
        for sock, hcm in slow:
            if not liveness.filter_timer_armed(sock.conn):
                first_seen.setdefault(sock, now)
            if sock in first_seen and now - first_seen[sock] > limits[sock]:
                raise InvariantViolation(
                    "request_head_not_timed_out",
                    f"downstream {sock.conn!r}: its client sent part of a request head and nothing for "
                    f"{now - first_seen[sock]} ms, its stream_idle_timeout_ms is "
                    f"{limits[sock]} (its configuration's, documented default included), and the "
                    "connection is still open",
                    judged="proxy/http/conn_manager.py:HttpConnectionManager._watch_request_start",
                    expected="408 and a close, HTTP/2 a GOAWAY (downstream_rq_idle_timeout)",
                    observed="open",
                )
        session.dispatcher.advance(max(limits.values()) + 1)
        session.dispatcher.run_posted()
        settle.settle(session)
