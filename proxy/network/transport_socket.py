"""The transport socket contract (Envoy's Network::TransportSocket), stated once.

A transport socket sits between a Connection's wire and its buffers. The transport that moves
bytes (the asyncio runtime, proxy/_server_socket.py, or the in-memory network, proxy/network/sim.py)
never knows which one a connection has: it calls `conn.on_read(wire_bytes, end_stream)` and
`conn.take_output(n)` as before, and the Connection hands both to its transport socket. Without one
(`conn.transport_socket is None`, Envoy's raw_buffer) the wire is the buffers.

A transport socket implements:

  on_socket_connected(conn)        the transport is up (a client's connect succeeded, or a server
                                   connection got its filter chain). raw_buffer raises Connected
                                   now; TLS starts its handshake and raises it when that completes.
  on_wire_read(conn, data, end)    bytes (and/or the peer's end of stream) from the wire. What they
                                   carry for the filters goes to `conn.receive_plaintext(data, end)`;
                                   bytes to send (handshake, alerts) are announced with
                                   `conn.wire_output_ready()`.
  take_wire_output(conn, n)        up to n bytes for the wire (None: all), made from what the
                                   connection's write buffer holds, which it drains as it goes.
  has_wire_output(conn)            True while it holds bytes for the wire, or must still make some
                                   (TLS: a close_notify after the connection's end of stream).
  on_flush_close(conn)             the connection closes flushing (close(FLUSH_WRITE)): what the
                                   transport owes the peer last joins the flush (TLS: its
                                   close_notify, RFC 8446 6.1). A NO_FLUSH close owes nothing.
  protocol                         "raw_buffer", "tls": what the access log and stats name.

Rules every transport socket keeps:
  * Connected is raised once, through `conn.raise_connected()`, after on_new_connection of the
    filters that were installed (Envoy: filters are created first, the handshake raises
    Connected), and before any byte reaches the read buffer: filters see plaintext only.
  * nothing reaches the read buffer and nothing is taken from the write buffer while the
    connection is not Connected (a TLS socket neither decrypts nor encrypts before its handshake).
  * a failure of the transport (bad handshake, corrupt record) closes the connection; bytes
    already made for the wire (a TLS alert) are flushed first when the transport can.
  * one `on_wire_read` hands at most its own bytes plus one partial record of plaintext to the
    read buffer: `max_plaintext_per_read` (0 for raw_buffer) is what it may add beyond a read.
"""


class TransportSocket:
    """Base of transport sockets other than raw_buffer (which is `None`, the fast path)."""

    protocol = "raw_buffer"
    max_plaintext_per_read = 0

    def on_socket_connected(self, conn) -> None:
        conn.raise_connected()

    def on_wire_read(self, conn, data: bytes, end_stream: bool) -> None:
        conn.receive_plaintext(data, end_stream)

    def take_wire_output(self, conn, max_bytes: int | None) -> bytes:
        return conn.write_buffer.take(max_bytes)

    def has_wire_output(self, conn) -> bool:
        return False

    def on_flush_close(self, conn) -> None:
        pass
