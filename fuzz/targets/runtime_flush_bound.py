"""The runtime harness's oracle for a socket kept after its connection closed, for a peer that
takes nothing.

Envoy's delayed_close_timeout (HttpConnectionManager, 1 s by default) is "enforced even when the
socket associated with the downstream connection is pending a flush of the write buffer", and any
write progress restarts it: a connection manager's socket outlives its connection by at most that
long without progress, wherever its bytes wait. tcp_proxy's idle timeout gives up on its peers
(Envoy closes them without flushing). So whatever asyncio still holds for such a client must not
keep the socket once the client took none of it for two periods (one period from the close, one
more from the last byte taken); other closes (tcp_proxy's flushing one) may wait as long as the
peer does, as Envoy's plain FlushWrite does. The differential (runtime.compare) cannot see this:
after a close without FIN the runtime may deliver more than the reference, and at the end every
peer reads everything."""

from proxy._server_socket import CLOSE_FLUSH_TIMEOUT_S
from proxy.http.conn_manager import HttpConnectionManager
from proxy.network.connection import State

from fuzz.oracles import InvariantViolation

BOUND_US = int(2 * CLOSE_FLUSH_TIMEOUT_S * 1e6) + 10_000  # two periods, and 10 ms for the loop's turns


def bounded_by_envoy(conn) -> bool:
    """A close Envoy bounds for a peer that takes nothing: a connection manager's connection, or a
    connection tcp_proxy's idle timeout ended. Read from the connection's filters and its end, not
    from the transport's own rule (Connection.flush_bounded)."""
    if conn.stream_info.get("failure") == "idle_timeout":
        return True
    return any(isinstance(active.filter, HttpConnectionManager) for active in conn.filter_manager.read_filters)


class HeldSockets:
    """Per transport of a closed, bounded connection: how much asyncio holds and since when (virtual
    microseconds) that amount has not moved."""

    def __init__(self) -> None:
        self.since: dict = {}

    def check(self, transports, now_us: int) -> None:
        """`transports`: (kernel socket, asyncio transport, SocketTransport) of every open data socket."""
        seen = {}
        for sock, transport, proto in transports:
            conn = proto.conn
            held = transport.get_write_buffer_size()
            if conn is None or conn.state is not State.CLOSED or not held or not bounded_by_envoy(conn):
                continue
            amount, since = self.since.get(transport, (held, now_us))
            if amount != held:  # the peer took some: a new period
                since = now_us
            seen[transport] = (held, since)
            if now_us - since > BOUND_US:
                raise InvariantViolation(
                    "runtime_socket_held_past_flush_bound",
                    f"connection {conn.id} closed, its socket {sock.local}->{sock.remote} still holds {held} bytes"
                    f" the peer took none of for {(now_us - since) / 1e6:.3f} s (Envoy's delayed close bounds it"
                    f" at {CLOSE_FLUSH_TIMEOUT_S:g} s without progress)",
                    judged="proxy._server_socket.SocketTransport",
                )
        self.since = seen
