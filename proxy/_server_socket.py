"""The socket transport: the real twin of proxy/network/sim.py's SimSocket.

One `SocketTransport` carries one sans-IO `Connection` over an asyncio socket. It is
both the asyncio protocol of that socket and the connection's `ConnectionIO`.

Read side (mirrors SimSocket.pump):
  * a `BufferedProtocol` with a READ_SIZE receive buffer, so one read never hands the
    connection more than READ_SIZE bytes;
  * bytes reach `conn.on_read` only while `conn.wire_readable` (reads enabled and, for an
    upstream connection, connected). When the connection disables reading the socket
    is paused at once; anything already received is held and fed in, one read's worth at
    a time, when reading is re-enabled. The peer's end of stream is held the same way.
    Bytes the connection gives back (`unread`: listener filters peeked at them) are held
    again in front.

Write side:
  * `write_ready` posts one flush on the dispatcher (never re-entrant from inside a
    filter); a flush takes WRITE_CHUNK bytes at a time from the connection's write buffer.
  * the asyncio transport's own write buffer has limits (0, 0): as soon as the kernel
    refuses bytes the transport pauses us and we stop taking output, so it is the
    connection's write buffer that fills and crosses its watermarks. That is what makes
    backpressure real.
  * `output_end_stream` becomes `write_eof()`; `closed` closes the socket.

Upstream connects: `AsyncioNetwork.connect` returns the Connection at once and connects in
the background, then calls `on_connected()` or `on_connect_failed()`.
"""

import asyncio
import logging
import socket

from .network.connection import CloseType, Connection, ConnectionIO, DEFAULT_BUFFER_LIMIT, State
from .network.held_input import deliver_held_input, hold_again

log = logging.getLogger("proxy.server")

READ_SIZE = 16 * 1024  # one read's worth, as SimSocket's default read_size
WRITE_CHUNK = 64 * 1024  # bytes handed to the asyncio transport per write
# After a close whose flush is bounded (Connection.flush_bounded), the bytes still in asyncio's
# buffer wait this long for the peer to take any (each byte taken restarts it), as Envoy's
# delayed_close_timeout (1 s) bounds a flush.
CLOSE_FLUSH_TIMEOUT_S = 1.0


def _address(sockaddr):
    """(host, port) of a socket address tuple, or None."""
    if isinstance(sockaddr, tuple) and len(sockaddr) >= 2:
        return (sockaddr[0], sockaddr[1])
    return None


class SocketTransport(asyncio.BufferedProtocol, ConnectionIO):
    """The transport of one Connection. `registry` tracks the live ones (Server)."""

    def __init__(self, registry, loop) -> None:
        self.registry = registry
        self.loop = loop
        self.conn: Connection | None = None
        self.transport: asyncio.Transport | None = None
        self._recv = bytearray(READ_SIZE)
        self.inbound = bytearray()  # received but not yet read into the connection
        self.inbound_end = False  # the peer's end of stream arrived
        self._end_delivered = False
        self._socket_paused = False  # pause_reading() is in effect
        self._write_blocked = False  # asyncio's transport asked us to stop writing
        self._flush_posted = False
        self._pump_posted = False
        self._in_flush = False
        self._close_requested = False
        self._eof_sent = False
        self.lost = False

    # -- asyncio protocol --------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        # (0, 0): pause as soon as the kernel refuses bytes, resume when all are sent.
        transport.set_write_buffer_limits(high=0, low=0)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def get_buffer(self, sizehint):
        return self._recv

    def buffer_updated(self, nbytes) -> None:
        self.inbound += memoryview(self._recv)[:nbytes]
        self._guarded(self._pump)

    def eof_received(self):
        self.inbound_end = True
        self._guarded(self._pump)
        # Keep the socket open: with half-close the connection still writes; without it
        # the connection closes itself on end of stream and tells us through closed().
        return True

    def pause_writing(self) -> None:
        self._write_blocked = True

    def resume_writing(self) -> None:
        self._write_blocked = False
        self._post_flush()

    def connection_lost(self, exc) -> None:
        self.lost = True
        self.transport_gone()
        conn = self.conn
        if conn is not None and conn.state is not State.CLOSED:
            self._guarded(conn.on_remote_close)

    # -- ConnectionIO ----------------------------------------------------------------------

    def read_enabled_changed(self, conn, enabled) -> None:
        self._adopt(conn)
        if enabled:
            if not self._pump_posted:
                self._pump_posted = True
                conn.dispatcher.post(self._posted_pump)
        else:
            self._pause_socket()

    def write_ready(self, conn) -> None:
        self._adopt(conn)
        self._post_flush()

    def closed(self, conn) -> None:
        self._adopt(conn)
        if self._in_flush:
            self._close_requested = True  # the flush puts its last bytes out first
        else:
            self._close_transport()

    def unread(self, conn, data) -> None:
        self._adopt(conn)
        hold_again(self, data)
        if not self._pump_posted:
            self._pump_posted = True
            conn.dispatcher.post(self._posted_pump)

    def _adopt(self, conn) -> None:
        # A listener may already drive the connection (filters writing or closing in
        # on_new_connection) before create_connection() has returned it to us.
        if self.conn is None:
            self.conn = conn

    # -- read path ---------------------------------------------------------------------------

    def _can_read(self) -> bool:
        conn = self.conn
        return conn is not None and self.transport is not None and conn.wire_readable

    def _posted_pump(self) -> None:
        self._pump_posted = False
        self._guarded(self._pump)

    def _pump(self) -> None:
        """Deliver held bytes while the connection reads; then match the socket to it."""
        deliver_held_input(self, READ_SIZE, self._can_read)
        self._sync_socket_reading()

    def _sync_socket_reading(self) -> None:
        if self._can_read() and not self.inbound_end:
            self._resume_socket()
        else:
            self._pause_socket()

    def _pause_socket(self) -> None:
        t = self.transport
        if t is not None and not self._socket_paused and not t.is_closing():
            t.pause_reading()
            self._socket_paused = True

    def _resume_socket(self) -> None:
        t = self.transport
        if t is not None and self._socket_paused and not t.is_closing():
            t.resume_reading()
            self._socket_paused = False

    # -- write path --------------------------------------------------------------------------

    def _post_flush(self) -> None:
        if not self._flush_posted and self.conn is not None:
            self._flush_posted = True
            self.conn.dispatcher.post(self._posted_flush)

    def _posted_flush(self) -> None:
        self._flush_posted = False
        self._guarded(self._flush)

    def _flush(self) -> None:
        conn, t = self.conn, self.transport
        if conn is None or t is None or t.is_closing():
            return
        self._in_flush = True
        try:
            while not self._write_blocked and conn.state is not State.CLOSED:
                data = conn.take_output(WRITE_CHUNK)
                if not data:
                    break
                t.write(data)  # may call pause_writing() at once
            if conn.output_end_stream and not self._eof_sent and conn.state is not State.CLOSED:
                self._eof_sent = True
                if t.can_write_eof():
                    try:
                        t.write_eof()
                    except OSError:
                        # ENOTCONN: the peer reset while this socket was not read (paused), so the
                        # reset was not seen yet. The peer is gone: end as for any reset.
                        t.abort()
        finally:
            self._in_flush = False
        if self._close_requested:
            self._close_transport()

    # -- teardown ----------------------------------------------------------------------------

    def _close_transport(self) -> None:
        self._close_requested = False
        t = self.transport
        if t is not None and not t.is_closing():
            t.close()  # sends what asyncio holds (at most one WRITE_CHUNK), then FIN
            held = t.get_write_buffer_size()
            if held and self.conn is not None and self.conn.flush_bounded:
                self.loop.call_later(CLOSE_FLUSH_TIMEOUT_S, self._abort_unless_taken, t, held)

    def _abort_unless_taken(self, t, held: int) -> None:
        """asyncio keeps a closing socket until its buffer is sent: a peer that never reads (its
        window shut) held the socket, its kernel buffers and the descriptor for ever after the
        core had given up on it (tcp_proxy's idle timeout) or closed a connection whose flush is
        bounded (the connection manager's). Any other close (tcp_proxy's flushing close) still
        waits as long as the peer takes, as Envoy's does."""
        if self.lost:
            return
        left = t.get_write_buffer_size()
        if not left:
            return
        if left < held:  # the peer is taking it: another period
            self.loop.call_later(CLOSE_FLUSH_TIMEOUT_S, self._abort_unless_taken, t, left)
            return
        t.abort()

    def transport_gone(self) -> None:
        self.inbound.clear()
        self.registry.discard(self)

    def _guarded(self, fn) -> None:
        """Run a callback into the proxy core; a bug in a filter closes this connection only."""
        try:
            fn()
        except Exception:
            log.exception("connection %s: unhandled error in the proxy core; closing it", getattr(self.conn, "id", "?"))
            self.registry.count_error()
            conn = self.conn
            if conn is not None and conn.state is not State.CLOSED:
                try:
                    conn.close(CloseType.NO_FLUSH)
                except Exception:
                    log.exception("closing connection %s failed", conn.id)
            if self.transport is not None:
                self.transport.abort()

    # -- accounting --------------------------------------------------------------------------

    def buffered_bytes(self) -> int:
        """Bytes the proxy holds for this connection: its read and write buffers plus held input."""
        conn = self.conn
        n = len(self.inbound)
        if conn is not None:
            n += len(conn.read_buffer) + len(conn.write_buffer)
        return n

    def transport_buffered_bytes(self) -> int:
        t = self.transport
        return t.get_write_buffer_size() if t is not None and not t.is_closing() else 0


class DownstreamTransport(SocketTransport):
    """An accepted connection. The listener picks its filter chain, builds the Connection,
    installs and initializes its filters (proxy/network/listener.py); None refuses it."""

    def __init__(self, registry, loop, listener, ctx, peer) -> None:
        super().__init__(registry, loop)
        self.listener = listener
        self.ctx = ctx
        self.peer = _address(peer)  # as accept(2) gave it (server.SharedListener)

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.registry.add(self, downstream=True)
        local = _address(transport.get_extra_info("sockname"))
        # Not the transport's peername: a peer that reset before now has none (ENOTCONN).
        remote = self.peer
        try:
            conn = self.listener.create_connection(self.ctx, self, local, remote)
        except Exception:
            log.exception("listener %s: creating a connection failed", self.listener.name)
            self.registry.count_error()
            conn = self.conn
            if conn is not None and conn.state is not State.CLOSED:
                conn.close(CloseType.NO_FLUSH)
            conn = None
        if conn is None:  # no filter chain matched: refuse the connection
            transport.close()
            return
        self.conn = conn
        if conn.state is State.CLOSED:  # a filter refused it (rbac, local_ratelimit)
            self._close_transport()
            return
        self._sync_socket_reading()
        if len(conn.write_buffer) or conn.write_end_stream:
            self._post_flush()


class UpstreamTransport(SocketTransport):
    """A client connection the proxy opens; created before the socket exists."""

    conn: Connection  # set by AsyncioNetwork.connect right after (the two refer to each other)

    def __init__(self, registry, loop) -> None:
        super().__init__(registry, loop)
        self.task: asyncio.Task | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        conn = self.conn
        if conn.state is State.CLOSED:  # closed (say, by a connect timeout) while connecting
            transport.close()
            return
        conn.local_address = _address(transport.get_extra_info("sockname"))
        self._guarded(self._on_up)

    def _on_up(self) -> None:
        self.conn.on_connected()
        if self.conn.state is not State.CLOSED:
            self._pump()

    def closed(self, conn) -> None:
        if self.transport is None and self.task is not None and not self.task.done():
            # A task cancelled before its first step never runs its own clean-up.
            self.task.cancel()
            self.transport_gone()
        super().closed(conn)


class AsyncioNetwork:
    """Opens upstream connections for the proxy core: `connect(host, port, buffer_limit)`."""

    def __init__(self, loop, dispatcher, registry) -> None:
        self.loop = loop
        self.dispatcher = dispatcher
        self.registry = registry

    def connect(self, host: str, port: int, buffer_limit: int = DEFAULT_BUFFER_LIMIT) -> Connection:
        transport = UpstreamTransport(self.registry, self.loop)
        conn = Connection(
            self.dispatcher, io=transport, remote_address=(host, port), buffer_limit=buffer_limit, is_client=True
        )
        transport.conn = conn
        self.registry.add(transport, downstream=False)
        transport.task = self.loop.create_task(self._connect(transport, host, port))
        return conn

    async def _connect(self, transport: UpstreamTransport, host: str, port: int) -> None:
        conn = transport.conn
        try:
            await self.loop.create_connection(lambda: transport, host, port)
        except asyncio.CancelledError:
            transport.transport_gone()
            return
        except OSError as exc:
            log.debug("connect to %s:%s failed: %s", host, port, exc)
            transport.transport_gone()
            if conn.state is not State.CLOSED:
                transport._guarded(conn.on_connect_failed)
