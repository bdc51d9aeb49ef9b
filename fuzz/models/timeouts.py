"""Timeouts as Envoy documents them, and what ours changes (docs/semantics.md).

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
