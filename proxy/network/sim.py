"""An in-memory network for tests and fuzzers: sockets are byte queues, time is virtual.

A SimSocket is the transport of one Connection. Its `peer` side is what the test or
fuzzer controls: `peer_send` queues bytes the remote end sent (they are read into the
connection only while its reads are enabled, at most `read_size` bytes per read, as a
kernel socket would), `peer_read` takes bytes the connection wrote (a slow reader reads
little), `peer_close` sends the remote end of stream, `peer_reset` aborts.

SimNetwork opens client (upstream) connections; each one waits until the driver calls
`complete_connect` or `fail_connect`, unless `auto_connect` is set.
"""

from collections import deque

from ..event import SimulatedDispatcher
from .connection import Connection, ConnectionIO, DEFAULT_BUFFER_LIMIT, State
from .held_input import deliver_held_input, hold_again

READ_SIZE = 16 * 1024


class SimSocket(ConnectionIO):
    def __init__(self, read_size: int = READ_SIZE) -> None:
        self.conn: Connection | None = None
        self.read_size = read_size
        self.inbound = bytearray()  # sent by the peer, not yet read by the connection
        self.inbound_end = False  # the peer sent its end of stream
        self._end_delivered = False
        self.sent = bytearray()  # everything the peer has sent (oracles compare it)
        self.received = bytearray()  # everything the peer has read from the connection
        self.peer_saw_end = False  # the connection shut down its write side
        self.is_closed = False
        self.auto_read = False  # the peer reads everything as soon as it is written
        self.notifications: deque = deque(maxlen=64)

    # -- ConnectionIO ---------------------------------------------------------------------
    def read_enabled_changed(self, conn, enabled) -> None:
        self.notifications.append(("read_enabled", enabled))
        if enabled:
            conn.dispatcher.post(self.pump)

    def write_ready(self, conn) -> None:
        if self.auto_read:
            conn.dispatcher.post(lambda: self.peer_read())

    def closed(self, conn) -> None:
        self.is_closed = True
        self.notifications.append(("closed", conn.close_event))

    # -- the peer's side ------------------------------------------------------------------
    def peer_send(self, data: bytes, end_stream: bool = False) -> None:
        if self.inbound_end or self.is_closed:
            return
        self.sent += data
        self.inbound += data
        self.inbound_end = end_stream
        self.pump()

    def peer_close(self) -> None:
        self.peer_send(b"", end_stream=True)

    def peer_reset(self) -> None:
        if self.conn is not None:
            self.conn.on_remote_close()

    def pump(self) -> None:
        """Deliver queued inbound bytes while the connection reads."""
        conn = self.conn
        deliver_held_input(self, self.read_size, lambda: conn is not None and conn.wire_readable)

    def unread(self, conn, data) -> None:
        hold_again(self, data)
        conn.dispatcher.post(self.pump)

    def peer_read(self, max_bytes: int | None = None) -> bytes:
        conn = self.conn
        if conn is None:
            return b""
        was_open = conn.state is not State.CLOSED
        out = conn.take_output(max_bytes)
        self.received += out
        # A FIN reaches the peer only if the connection flushed its end of stream while still
        # open; closing discards the write buffer, and no end of stream goes out then.
        if was_open and conn.output_end_stream:
            self.peer_saw_end = True
        return out


class SimNetwork:
    """Opens upstream connections in memory. Addresses are (host, port) tuples. `socket_class`
    makes the upstream peers' sockets (a SimSocket subclass: drivers put a TLS-speaking peer there)."""

    socket_class = SimSocket

    def __init__(self, dispatcher: SimulatedDispatcher, auto_connect: bool = False) -> None:
        self.dispatcher = dispatcher
        self.auto_connect = auto_connect
        self.pending: list[Connection] = []
        self.opened: list[Connection] = []
        self.refused: set = set()

    def connect(self, host: str, port: int, buffer_limit: int = DEFAULT_BUFFER_LIMIT) -> Connection:
        sock = self.socket_class()
        conn = Connection(
            self.dispatcher,
            io=sock,
            remote_address=(host, port),
            local_address=("127.0.0.1", 40000 + len(self.opened)),
            buffer_limit=buffer_limit,
            is_client=True,
        )
        sock.conn = conn
        self.opened.append(conn)
        if (host, port) in self.refused:
            self.dispatcher.post(conn.on_connect_failed)
        elif self.auto_connect:
            self.dispatcher.post(lambda: self.complete_connect(conn))
        else:
            self.pending.append(conn)
        return conn

    def complete_connect(self, conn: Connection) -> None:
        if conn in self.pending:
            self.pending.remove(conn)
        conn.on_connected()
        io = conn.io
        assert isinstance(io, SimSocket), "connections this network opened"
        io.pump()

    def fail_connect(self, conn: Connection) -> None:
        if conn in self.pending:
            self.pending.remove(conn)
        conn.on_connect_failed()


def accept(
    dispatcher,
    sock: SimSocket | None = None,
    *,
    remote_address=("127.0.0.1", 50000),
    local_address=("127.0.0.1", 10000),
    buffer_limit: int = DEFAULT_BUFFER_LIMIT,
    server_name: str = "",
) -> Connection:
    """A downstream connection as a listener would accept it, before filters are added."""
    sock = sock or SimSocket()
    conn = Connection(
        dispatcher,
        io=sock,
        remote_address=remote_address,
        local_address=local_address,
        buffer_limit=buffer_limit,
        server_name=server_name,
    )
    sock.conn = conn
    return conn
