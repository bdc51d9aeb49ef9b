"""Oracle: a downstream HTTP connection the proxy is closing ends, even when its client reads nothing.

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
"""

from proxy.http.conn_manager import HttpConnectionManager
from proxy.network.connection import State

from .oracles import InvariantViolation

DELAYED_CLOSE_TIMEOUT_MS = 1000  # Envoy's default


def check(session) -> None:
    now = session.dispatcher.now_ms()
    for sock in session.downstream:
        conn = sock.conn
        if conn is None or conn.state is not State.CLOSING or not _is_http(conn) or conn.filter_manager.write_filters:
            sock.fuzz_closing = None
            continue
        seen = getattr(sock, "fuzz_closing", None)
        if seen is None or seen[1] != conn.bytes_sent:  # closing began, or the client took some
            sock.fuzz_closing = (now, conn.bytes_sent)
        elif now - seen[0] > DELAYED_CLOSE_TIMEOUT_MS:
            raise InvariantViolation(
                "closing_connection_held",
                f"downstream {conn!r}: closing since {seen[0]} ms with {len(conn.write_buffer)} bytes unflushed, "
                f"the client took none of them, still open at {now} ms",
                judged=conn,
                expected=f"closed by {seen[0] + DELAYED_CLOSE_TIMEOUT_MS} ms (delayed_close_timeout)",
                observed=f"still closing at {now} ms",
            )


def _is_http(conn) -> bool:
    return any(isinstance(active.filter, HttpConnectionManager) for active in conn.filter_manager.read_filters)
