"""A sans-IO network connection: buffers, watermarks, read-disable, events, filters.

The connection never touches a socket. A transport (the asyncio runtime, or the
simulated network used by tests and fuzzers) moves bytes in and out:

  in:   on_read(data, end_stream)   bytes received; call only while wire_readable
        on_connected()              the transport is up (client: connect succeeded)
        on_connect_failed()         client connect failed
        on_remote_close()           the peer reset or the socket failed
  out:  take_output(n) -> bytes     bytes to put on the wire (drains the write buffer)
        output_end_stream           True once our end of stream is flushed: shut down writes
        io.read_enabled_changed / io.write_ready / io.closed   notifications to the transport
        io.unread(conn, data)       bytes read too early (listener filters peek): hold them in
                                    front of what the transport holds and deliver them again

A transport socket (proxy/network/transport_socket.py: raw_buffer when None, TLS) sits between
on_read / take_output and the buffers; `connected` is True once it raised Connected (after a TLS
handshake), `socket_connected` once the transport is up.

Semantics (Envoy's ConnectionImpl):
  * buffer limit L (default 1 MiB) gives both buffers a high watermark of L + 1 and a
    low watermark of (L + 1) // 2. Read buffer above high: reads are disabled; below
    low: re-enabled. Write buffer crossings go to the connection callbacks, which use
    them for backpressure on the other side of a proxy; a write filter holding output
    back (fault's throttle) reports its buffer's crossings too, and the callbacks hear
    "above" when the first of them is above high, "below" when all are back under low.
  * read_disable(True/False) is reference counted; re-enabling with data already in the
    read buffer re-dispatches it (posted on the dispatcher, never re-entrantly).
  * the filter chain still gets data when the only reason reads are disabled is the read
    buffer's own high watermark.
  * without half-close, a received end of stream delivers the data, then closes the
    connection (RemoteClose). With half-close, end_stream reaches the filters and the
    connection closes once both directions have ended and the write buffer is flushed.
  * close(FLUSH_WRITE) with bytes pending enters CLOSING: no more reads, the transport
    flushes, then the connection closes (LocalClose). close(NO_FLUSH) closes at once.
    With set_delayed_close_timeout(ms) (the HCM's, as Envoy's delayed_close_timeout), a
    CLOSING connection whose peer takes nothing for ms closes without the rest.
"""

import enum
from typing import TYPE_CHECKING

from ..buffer import Buffer, WatermarkBuffer
from .filter import STOP_ITERATION
from .filter_manager import FilterManager
from .transport_socket import TransportSocket

if TYPE_CHECKING:
    from ..event import Timer
    from ..tls.info import TlsInfo

DEFAULT_BUFFER_LIMIT = 1 << 20


class ConnectionEvent(enum.Enum):
    CONNECTED = "Connected"
    REMOTE_CLOSE = "RemoteClose"
    LOCAL_CLOSE = "LocalClose"


class CloseType(enum.Enum):
    FLUSH_WRITE = "FlushWrite"
    NO_FLUSH = "NoFlush"


class State(enum.Enum):
    OPEN = "Open"
    CLOSING = "Closing"
    CLOSED = "Closed"


class ConnectionContractError(AssertionError):
    """A caller broke the connection's contract (a proxy bug, never a peer's fault)."""


class ConnectionIO:
    """What a transport is told. The default does nothing (pure in-memory use)."""

    def read_enabled_changed(self, conn: "Connection", enabled: bool) -> None:
        pass

    def write_ready(self, conn: "Connection") -> None:
        pass

    def closed(self, conn: "Connection") -> None:
        pass

    def unread(self, conn: "Connection", data: bytes) -> None:
        conn.dispatcher.post(lambda: conn.on_read(data, False))


class Connection:
    def __init__(
        self,
        dispatcher,
        *,
        io: ConnectionIO | None = None,
        id: int | None = None,
        local_address=None,
        remote_address=None,
        server_name: str = "",
        buffer_limit: int = DEFAULT_BUFFER_LIMIT,
        is_client: bool = False,
    ) -> None:
        self.dispatcher = dispatcher
        self.io = io or ConnectionIO()
        self.id = dispatcher.next_id() if id is None else id
        self.local_address = local_address
        self.remote_address = remote_address
        self.server_name = server_name
        self.is_client = is_client
        self.buffer_limit = buffer_limit
        self.read_buffer = WatermarkBuffer(self._on_read_buffer_high, self._on_read_buffer_low, buffer_limit)
        self.write_buffer = WatermarkBuffer(self._on_write_buffer_high, self._on_write_buffer_low, buffer_limit)
        self._output_above_high = 0  # buffers of our output above their high watermark, not yet back under low
        self.state = State.OPEN
        self.connected = False  # Connected was raised (after a TLS handshake)
        self.socket_connected = not is_client  # the transport is up: bytes may move
        self.transport_socket: TransportSocket | None = None  # None: raw_buffer (see transport_socket.py)
        self.ssl: TlsInfo | None = None  # set once a TLS handshake completed
        # What listener filters detected (Envoy's ConnectionSocket): chain matching reads them.
        self.transport_protocol = ""
        self.application_protocols: tuple = ()
        self.direct_remote_address = remote_address  # the TCP peer, even when PROXY protocol names another
        self.close_event: ConnectionEvent | None = None
        # Set by a close because the peer took nothing (tcp_proxy's idle timeout): the transport
        # need not hold the socket for it long (proxy/_server_socket.py).
        self.output_abandoned = False
        self.read_end_stream = False
        self.write_end_stream = False
        self.flushed_close = False  # closed by close(FLUSH_WRITE) once everything owed was on the wire
        self.close_cut_short = False  # the close ends a message cut short: no close_notify certifies it
        self.half_close_enabled = False
        self.bytes_received = 0
        self.bytes_sent = 0
        self.stream_info: dict = {}
        self._read_disable_count = 0
        self._dispatch_posted = False
        # Envoy's read_end_stream_raised_: the filter chain sees the peer's end of stream once,
        # even when a later read_disable(False) re-dispatches the buffer.
        self._read_end_stream_raised = False
        self._callbacks: list = []
        self.filter_manager = FilterManager(self)
        self._delayed_close_ms = 0  # 0: a FLUSH_WRITE close waits for the flush as long as it takes
        self._delayed_close_timer: Timer | None = None

    def __repr__(self) -> str:
        return f"Connection(id={self.id}, {self.state.value}, rd={self._read_disable_count})"

    # -- state ---------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.state is State.OPEN

    @property
    def reading_enabled(self) -> bool:
        return self.state is State.OPEN and self._read_disable_count == 0

    @property
    def read_disable_count(self) -> int:
        return self._read_disable_count

    def enable_half_close(self, enabled: bool = True) -> None:
        self.half_close_enabled = enabled

    def add_connection_callbacks(self, callbacks) -> None:
        self._callbacks.append(callbacks)

    def remove_connection_callbacks(self, callbacks) -> None:
        if callbacks in self._callbacks:
            self._callbacks.remove(callbacks)

    # -- filters ---------------------------------------------------------------------------

    def add_read_filter(self, f) -> None:
        self.filter_manager.add_read_filter(f)

    def add_write_filter(self, f) -> None:
        self.filter_manager.add_write_filter(f)

    def add_filter(self, f) -> None:
        """A filter that is both a read and a write filter."""
        self.add_read_filter(f)
        self.add_write_filter(f)

    def initialize_read_filters(self) -> bool:
        return self.filter_manager.initialize_read_filters()

    # -- read path -------------------------------------------------------------------------

    def read_disable(self, disable: bool) -> None:
        if self.state is State.CLOSED:
            return
        if disable:
            self._read_disable_count += 1
            if self._read_disable_count == 1:
                self.io.read_enabled_changed(self, False)
            return
        if self._read_disable_count == 0:
            raise ConnectionContractError("read_disable(False) without a matching read_disable(True)")
        self._read_disable_count -= 1
        if self.state is not State.OPEN:
            return
        if self._read_disable_count == 0:
            self.io.read_enabled_changed(self, True)
        # Also when the read buffer's own high watermark is the only disable left (Envoy's
        # filterChainWantsData()): a filter holding bytes there must see them again.
        if (
            self._filter_chain_wants_data()
            and (len(self.read_buffer) or self.read_end_stream)
            and not self._dispatch_posted
        ):
            self._dispatch_posted = True
            self.dispatcher.post(self._dispatch_buffered)

    def _dispatch_buffered(self) -> None:
        self._dispatch_posted = False
        self._on_read()

    def _filter_chain_wants_data(self) -> bool:
        return self._read_disable_count == 0 or (
            self._read_disable_count == 1 and self.read_buffer.above_high_watermark
        )

    @property
    def wire_readable(self) -> bool:
        """The transport may call on_read: reads are enabled and the transport is up."""
        return self.state is State.OPEN and self._read_disable_count == 0 and self.socket_connected

    def on_read(self, data: bytes, end_stream: bool = False) -> None:
        """The transport received bytes (and/or the peer's end of stream)."""
        if self.state is not State.OPEN:
            return
        if self.transport_socket is not None:
            self.transport_socket.on_wire_read(self, data, end_stream)
            return
        self.receive_plaintext(data, end_stream)

    def receive_plaintext(self, data: bytes, end_stream: bool = False) -> None:
        """What the wire carried, for the filters (raw_buffer: the bytes themselves)."""
        if self.state is not State.OPEN:
            return
        self.bytes_received += len(data)
        self.read_buffer.add(data)
        close_after = end_stream and not self.half_close_enabled
        if end_stream and self.half_close_enabled:
            self.read_end_stream = True
        if data or self.read_end_stream:
            self._on_read()
        if self.state is not State.CLOSED and (close_after or self._both_sides_half_closed()):
            self._close_socket(ConnectionEvent.REMOTE_CLOSE)

    def _on_read(self) -> None:
        if self.state is not State.OPEN or not self._filter_chain_wants_data():
            return
        if not len(self.read_buffer) and not self.read_end_stream:
            return
        if self.read_end_stream:
            if self._read_end_stream_raised:
                return
            self._read_end_stream_raised = True
        self.filter_manager.on_read()

    def _on_read_buffer_high(self) -> None:
        self.read_disable(True)

    def _on_read_buffer_low(self) -> None:
        self.read_disable(False)

    # -- write path ------------------------------------------------------------------------

    def write(self, data, end_stream: bool = False) -> None:
        """Write through the write filters (last added first) into the write buffer."""
        if self.write_end_stream:
            raise ConnectionContractError("write after end_stream was written")
        if self.state is not State.OPEN:
            return
        buf = data if isinstance(data, Buffer) else Buffer(data)
        if self.filter_manager.on_write(0, buf, end_stream) is STOP_ITERATION:
            return
        self._raw_write(buf, end_stream)

    def _raw_write(self, buf: Buffer, end_stream: bool) -> None:
        if self.state is State.CLOSED:
            return  # CLOSING: a write filter injects what it held back (the close waits for it)
        if end_stream:
            self.write_end_stream = True
        if len(buf):
            self.write_buffer.move_from(buf)
        if len(self.write_buffer) or end_stream:
            self.io.write_ready(self)

    def take_output(self, max_bytes: int | None = None) -> bytes:
        """The transport puts up to max_bytes of the write buffer on the wire."""
        if self.state is State.CLOSED or not self.socket_connected:
            return b""
        ts = self.transport_socket
        out = self.write_buffer.take(max_bytes) if ts is None else ts.take_wire_output(self, max_bytes)
        self.bytes_sent += len(out)
        if out and self._delayed_close_timer is not None and self.state is State.CLOSING:
            self._delayed_close_timer.enable(self._delayed_close_ms)  # progress: the grace period starts again
        if not self._output_pending():
            if self.state is State.CLOSING:
                self.flushed_close = True
                self._close_socket(ConnectionEvent.LOCAL_CLOSE)
            elif self._both_sides_half_closed():
                self._close_socket(ConnectionEvent.LOCAL_CLOSE)
        return out

    def _output_pending(self) -> bool:
        """Bytes still to go on the wire: the write buffer (once it can be sent) and whatever
        the transport socket holds or must still make."""
        if self.filter_manager.write_filters and self.filter_manager.holds_writes():
            return True
        ts = self.transport_socket
        if ts is None:
            return bool(len(self.write_buffer))
        return bool(len(self.write_buffer) and self.connected) or ts.has_wire_output(self)

    def wire_output_ready(self) -> None:
        """A transport socket has bytes for the wire (handshake, alert) that no write made."""
        if self.state is not State.CLOSED:
            self.io.write_ready(self)

    @property
    def output_end_stream(self) -> bool:
        """True once our end of stream is written and flushed: the transport shuts down writes. Not
        while plaintext waits for the transport socket to be ready (a TLS handshake under way): a
        FIN then would end the handshake, and those bytes could never go."""
        if self.transport_socket is not None and len(self.write_buffer) and not self.connected:
            return False
        return self.write_end_stream and not self._output_pending()

    def _on_write_buffer_high(self) -> None:
        # Every buffer of this connection's output reports here: its write buffer and what a write
        # filter holds back (the fault filter's throttle). The writer is paused once one of them is
        # above its high watermark and resumed only when all are back under their low one: resuming
        # when one of two went low let the other grow without bound.
        self._output_above_high += 1
        if self._output_above_high == 1:
            for cb in list(self._callbacks):
                cb.on_above_write_buffer_high_watermark()

    def _on_write_buffer_low(self) -> None:
        self._output_above_high -= 1
        if self._output_above_high == 0:
            for cb in list(self._callbacks):
                cb.on_below_write_buffer_low_watermark()

    def _both_sides_half_closed(self) -> bool:
        return self.read_end_stream and self.write_end_stream and not self._output_pending()

    # -- connect and close -----------------------------------------------------------------

    def on_connected(self) -> None:
        """The transport is up: the transport socket raises Connected now or after its handshake."""
        if self.state is State.CLOSED or self.connected:
            return
        self.socket_connected = True
        if self.transport_socket is None:
            self.raise_connected()
        else:
            self.transport_socket.on_socket_connected(self)

    def raise_connected(self) -> None:
        if self.state is State.CLOSED or self.connected:
            return
        self.connected = True
        self._raise_event(ConnectionEvent.CONNECTED)
        if self.state is not State.CLOSED and (len(self.write_buffer) or self.write_end_stream):
            self.io.write_ready(self)

    def on_connect_failed(self) -> None:
        self.stream_info["failure"] = "connect_failed"
        self._close_socket(ConnectionEvent.REMOTE_CLOSE)

    def on_remote_close(self) -> None:
        self._close_socket(ConnectionEvent.REMOTE_CLOSE)

    def close(self, close_type: CloseType = CloseType.NO_FLUSH, *, cut_short: bool = False) -> None:
        """cut_short: what is flushed ends a message cut short (an HTTP/1.1 response its owner reset):
        the peer gets the bytes and the end of the connection, but no end the transport would certify
        (TLS close_notify: it would make a close-delimited body complete, RFC 9112 9.8)."""
        if self.state is State.CLOSED:
            return
        self.close_cut_short |= cut_short
        if close_type is CloseType.FLUSH_WRITE and self.socket_connected and self.transport_socket is not None:
            if not self.close_cut_short:
                self.transport_socket.on_flush_close(self)
        if close_type is CloseType.FLUSH_WRITE and self.socket_connected and self._output_pending():
            if self.state is State.OPEN:
                self.state = State.CLOSING
                if self._delayed_close_ms:
                    self._delayed_close_timer = self.dispatcher.create_timer(self._on_delayed_close_timeout)
                    self._delayed_close_timer.enable(self._delayed_close_ms)
                self.io.read_enabled_changed(self, False)
                self.io.write_ready(self)
            return
        self.flushed_close = close_type is CloseType.FLUSH_WRITE and self.socket_connected
        self._close_socket(ConnectionEvent.LOCAL_CLOSE)

    @property
    def flush_bounded(self) -> bool:
        """What the transport still holds for the peer once this connection closed waits only while
        the peer takes some (proxy/_server_socket.py): the close gave up on the peer (tcp_proxy's
        idle timeout), or every flush of this connection is bounded (a delayed close timeout, the
        connection manager's: Envoy closes the socket after that long without write progress,
        whether the bytes wait in its buffer or, here, in asyncio's)."""
        return self.output_abandoned or self._delayed_close_ms > 0

    def set_delayed_close_timeout(self, ms: int) -> None:
        """Envoy's delayed_close_timeout for a FLUSH_WRITE close: when the peer takes nothing for
        `ms`, the connection closes without the rest (a client that never reads would otherwise
        hold it, and its buffered output, forever). Every write progress restarts the period."""
        self._delayed_close_ms = ms

    def _on_delayed_close_timeout(self) -> None:
        if self.state is not State.CLOSING:
            return
        if self.filter_manager.write_filters and self.filter_manager.holds_writes():
            # A write filter paces the output (the fault filter's throttle): the peer is not what
            # stalls it. What the filter lets go reaches the write buffer, then the bound applies.
            assert self._delayed_close_timer is not None, "only the armed timer calls back"
            self._delayed_close_timer.enable(self._delayed_close_ms)
            return
        self.stream_info["delayed_close_timeout"] = True
        self._close_socket(ConnectionEvent.LOCAL_CLOSE)

    def _close_socket(self, event: ConnectionEvent) -> None:
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        self.close_event = event
        if self._delayed_close_timer is not None:
            self._delayed_close_timer.disable()
        self.read_buffer.clear()
        self.write_buffer.clear()
        self.io.closed(self)
        self._raise_event(event)

    def _raise_event(self, event: ConnectionEvent) -> None:
        for cb in list(self._callbacks):
            cb.on_event(event)
