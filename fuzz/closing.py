"""Oracles on a downstream HTTP connection's close: it ends, even when its client reads nothing, and it
takes its streams with it.

Envoy's HTTP connection manager closes with FlushWrite under `delayed_close_timeout` (1 s by default,
HttpConnectionManager in http_connection_manager.proto): "This timeout is enforced even when the
socket associated with the downstream connection is pending a flush of the write buffer. However,
any progress made writing data to the socket will restart the timer". A connection left CLOSING for
longer than that without its client taking a byte holds its socket and buffered output (up to the
buffer limit) for as long as the client likes: `closing_connection_held`, judged after every action.
Connections with a write filter are left out: one that paces the output (the network fault filter's
throttle) holds it for reasons of its own, which its model judges, and only between actions can this
oracle look.
The proxy kept such connections for good (a client that never reads, after a stream idle timeout).

The other bound, from the same sentence: a connection the delayed close timeout ended
(stream_info["delayed_close_timeout"]) must have gone the whole timeout without progress, so it
closes no earlier than 1 s after its closing began or its client last took a byte. Between actions
only a lower bound on those moments is known (the check before the one that saw them), so a close
seen less than 1 s after that bound ended a client that was still reading:
`delayed_close_cut_a_reading_client` (a grace period counted from the close, never restarted,
truncates every slow download).

A closed connection has no client left to answer: Envoy's connection manager resets every stream of
a connection that closed, whichever side closed it and whatever the stream waited for
(ConnectionManagerImpl::onEvent, resetAllStreams; its router then resets the upstream request,
onDestroy). A stream still live on a closed connection holds its upstream request, a circuit-breaker
slot and an upstream connection for a client that is gone, until some timeout (the route timeout,
15 s by default; none at all for a response that streams on): `stream_outlives_its_connection`,
judged after every action.
"""

from proxy.http.conn_manager import HttpConnectionManager
from proxy.network.connection import State

from .oracles import InvariantViolation

DELAYED_CLOSE_TIMEOUT_MS = 1000  # Envoy's default


def check(session) -> None:
    now = session.dispatcher.now_ms()
    before = getattr(session, "fuzz_closing_checked_ms", 0)  # the previous check: a lower bound
    session.fuzz_closing_checked_ms = now
    for sock in session.downstream:
        conn = sock.conn
        if conn is not None and conn.state is State.CLOSED:
            _check_not_cut_early(sock, conn, now)
            _check_streams_ended(conn)
        if conn is None or conn.state is not State.CLOSING or not _is_http(conn) or conn.filter_manager.write_filters:
            sock.fuzz_closing = sock.fuzz_progress = None
            continue
        seen = getattr(sock, "fuzz_closing", None)
        if seen is None or seen[1] != conn.bytes_sent:  # closing began, or the client took some
            sock.fuzz_closing = (now, conn.bytes_sent)
            sock.fuzz_progress = before  # the timer (re)started no earlier than this
        elif now - seen[0] > DELAYED_CLOSE_TIMEOUT_MS:
            raise InvariantViolation(
                "closing_connection_held",
                f"downstream {conn!r}: closing since {seen[0]} ms with {len(conn.write_buffer)} bytes unflushed, "
                f"the client took none of them, still open at {now} ms",
                judged=conn,
                expected=f"closed by {seen[0] + DELAYED_CLOSE_TIMEOUT_MS} ms (delayed_close_timeout)",
                observed=f"still closing at {now} ms",
            )


def _check_not_cut_early(sock, conn, now: int) -> None:
    progress = getattr(sock, "fuzz_progress", None)
    if progress is None or not conn.stream_info.get("delayed_close_timeout"):
        return
    if now < progress + DELAYED_CLOSE_TIMEOUT_MS:
        raise InvariantViolation(
            "delayed_close_cut_a_reading_client",
            f"downstream {conn!r}: closed by the delayed close timeout by {now} ms, but its closing began or "
            f"its client took bytes at {progress} ms or later",
            judged=conn,
            expected=f"open until at least {progress + DELAYED_CLOSE_TIMEOUT_MS} ms",
            observed=f"closed by {now} ms",
        )


def _check_streams_ended(conn) -> None:
    for hcm in _managers(conn):
        live = [stream for stream in hcm.streams.values() if not stream.ended]
        if live:
            stream = live[0]
            raise InvariantViolation(
                "stream_outlives_its_connection",
                f"downstream {conn!r} closed, but {len(live)} of its streams live on: stream {stream.stream_id} "
                f"({stream.head.method.decode('latin-1')} {stream.head.path[:60].decode('latin-1')}, request "
                f"{'complete' if stream.request_complete else 'incomplete'}, response "
                f"{'started' if stream.response_started else 'not started'})",
                judged=conn,
                expected="every stream reset as its connection closed (Envoy: resetAllStreams)",
                observed=f"{len(live)} live stream(s)",
            )


def _managers(conn) -> list:
    return [
        active.filter for active in conn.filter_manager.read_filters if isinstance(active.filter, HttpConnectionManager)
    ]


def _is_http(conn) -> bool:
    return bool(_managers(conn))
