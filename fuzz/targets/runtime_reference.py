"""The runtime harness's reference world: the same configuration on the in-memory network
(proxy/network/sim.py), with the buffering a correct socket transport adds in front of each peer.

A socket transport takes a connection's output a chunk at a time (WRITE_CHUNK) while asyncio's
buffer is empty, the kernel takes what fits its capacity and asyncio keeps the rest until the
kernel has room (proxy/_server_socket.py's write side, asyncio's `write` with limits (0, 0)). So a
peer reads from a queue of `capacity` bytes the transport fills, not from the connection itself:
a response that fits the queue is finished for the proxy though its client has read none of it.
The other way, a peer's writes wait for room in a queue of `capacity` bytes, so the proxy reads
at most that much at once. `ReferencePeer` models both over a SimSocket, so both worlds hand the
core the same flow control and the differential compares what the transports did, not where the
bytes wait.
"""

from proxy._server_socket import CLOSE_FLUSH_TIMEOUT_S, READ_SIZE, WRITE_CHUNK
from proxy.event import SimulatedDispatcher
from proxy.network import sim
from proxy.network.connection import State

MAX_ROUNDS = 100_000


class ReferencePeer:
    """A peer of a SimSocket behind a modelled kernel queue and asyncio buffer."""

    def __init__(self, sock, capacity: int) -> None:
        self.sock = sock
        self.capacity = capacity
        self.kernel = bytearray()  # written by the transport, not yet read by the peer
        self.held = bytearray()  # asyncio's buffer: taken from the connection, refused by the kernel
        self.received = bytearray()
        self.outbox = bytearray()  # sent, not yet in the kernel's queue toward the proxy
        self.outbox_end = False
        self.did_reset = False
        self.reset_unseen = False  # reset, and the proxy's socket has not read or written since
        self.bounded_watched = False  # a close bounded the flush: what asyncio holds is timed

    @property
    def encrypted(self) -> bool:
        """TLS on this connection: its records carry fresh random bytes, different in each run."""
        conn = self.sock.conn
        return conn is not None and getattr(conn.transport_socket, "protocol", "") == "tls"

    @property
    def _drained(self) -> bool:
        return not self.kernel and not self.held

    @property
    def clean_end(self) -> bool:
        """The proxy shut its side down after writing everything (FIN after the last byte)."""
        return self.sock.peer_saw_end and self._drained

    @property
    def ended(self) -> bool:
        return (self.sock.peer_saw_end or self.sock.is_closed) and self._drained

    def push(self) -> bool:
        """The peer writes on as the kernel's queue toward the proxy has room (a blocking writer): the
        proxy reads at most `capacity` bytes at once, as through a real socket. Its end of stream
        comes alone, once the connection took every byte before it: a socket's read returns data or
        the end, never both, so a connection that stops reading after the last bytes has not seen
        the end."""
        sock = self.sock
        if sock.is_closed or sock.inbound_end:
            self.outbox.clear()
            return False
        if self.outbox:
            n = min(len(self.outbox), self.capacity - len(sock.inbound))
            if n <= 0:
                return False
            data = bytes(self.outbox[:n])
            del self.outbox[:n]
            sock.peer_send(data)
            return True
        if self.outbox_end and not sock.inbound:
            sock.peer_send(b"", True)
            return True
        return False

    def transport_moves(self) -> bool:
        """What the transport does at rest: fill the kernel from its buffer, then take the next chunk
        while its buffer is empty; and the peer's writes go on. True when a byte moved."""
        moved = self.push() or self._learn_of_reset()
        self._watch_bounded_output()
        while True:
            room = self.capacity - len(self.kernel)
            if self.held and room > 0:
                n = min(room, len(self.held))
                self.kernel += self.held[:n]
                del self.held[:n]
                moved = True
            if self.held or self.did_reset:
                return moved
            conn = self.sock.conn
            if conn is None or conn.state is State.CLOSED:
                # Closing drops the connection's buffer; what the transport took still goes out.
                return moved
            data = self.sock.peer_read(WRITE_CHUNK)
            if not data:
                return moved
            self.held += data
            moved = True

    def _watch_bounded_output(self) -> None:
        """A close whose flush is bounded (Connection.flush_bounded: tcp_proxy's idle timeout, any
        close of a connection manager's connection) leaves what asyncio holds one period to be
        taken (proxy/_server_socket.py, CLOSE_FLUSH_TIMEOUT_S): a period in which the peer took
        none of it ends in an abort, which drops it (what the kernel has still goes out)."""
        conn = self.sock.conn
        if self.bounded_watched or not self.held or conn is None or conn.state is not State.CLOSED:
            return
        if not conn.flush_bounded:
            return
        self.bounded_watched = True
        self._check_held_after_a_period(conn.dispatcher, len(self.held))

    def _check_held_after_a_period(self, dispatcher, held: int) -> None:
        def check() -> None:
            if not self.held:
                return
            if len(self.held) < held:  # the peer is taking it: another period
                self._check_held_after_a_period(dispatcher, len(self.held))
                return
            self.held.clear()

        dispatcher.create_timer(check).enable(int(CLOSE_FLUSH_TIMEOUT_S * 1000))

    def send(self, data, end=False) -> None:
        if self.outbox_end or self.did_reset:
            return
        self.outbox += data
        self.outbox_end = end
        self.push()

    def read(self, n=None) -> None:
        take = len(self.kernel) if n is None else min(n, len(self.kernel))
        self.received += self.kernel[:take]
        del self.kernel[:take]

    def close(self) -> None:
        self.send(b"", True)

    def reset(self) -> None:
        """What was in flight either way is gone at once; the proxy learns of the reset only when its
        socket reads (reading not paused, no end of stream yet) or writes (output to take)."""
        if self.did_reset:
            return
        self.did_reset = self.reset_unseen = True
        self.kernel.clear()
        self.held.clear()
        self.outbox.clear()
        self.sock.inbound.clear()
        self._learn_of_reset()

    def _learn_of_reset(self) -> bool:
        if not self.reset_unseen:
            return False
        sock, conn = self.sock, self.sock.conn
        if conn is None or conn.state is State.CLOSED:
            self.reset_unseen = False
            return False
        reads = conn.wire_readable and not sock.inbound_end
        writes = bool(len(conn.write_buffer)) or (conn.output_end_stream and not sock.peer_saw_end)
        if not (reads or writes):
            return False
        self.reset_unseen = False
        sock.peer_reset()
        return True


class AfterIoDispatcher(SimulatedDispatcher):
    """post_after_io as on asyncio's loop (proxy.event.AsyncioDispatcher): the callback runs after the
    transports' next moves, so a peer's end of stream right behind the bytes just taken (which a
    socket hands over alone, in the next read) is known first. SimulatedDispatcher runs it at once,
    its network handing the end over with the last bytes; here it is not (ReferencePeer.push): the
    pool then reused a connection whose upstream had closed with its response (9a67488).

    "Next" counts from the callback's posting: one posted while the transports move (a read that
    ended a response) waits for the moves of the round after, as asyncio's reads the end of stream
    in the poll after the one that read the last bytes, before the posted callback's own post runs.
    Posting it at the end of the same moves ran it one read too early: the reference reused the
    connection its upstream had just closed, the runtime did not (a CI finding at 2022f90)."""

    def __init__(self) -> None:
        super().__init__()
        self.after_io: list = []
        self._armed: list = []

    def post_after_io(self, callback) -> None:
        self.after_io.append(callback)

    def io_begin(self) -> None:
        """The transports are about to move: what was posted before now runs after these moves."""
        self._armed, self.after_io = self.after_io, []

    def io_done(self) -> bool:
        """The transports moved: what waited for that is posted. True if anything still waits."""
        armed, self._armed = self._armed, []
        for callback in armed:
            self.post(callback)
        return bool(armed) or bool(self.after_io)


class ReferenceWorld:
    """The same configuration on the in-memory network, peers behind modelled transports."""

    def __init__(self, built, capacity: int, instantiate) -> None:
        self.built = built
        self.capacity = capacity
        self.dispatcher = AfterIoDispatcher()
        self.network = sim.SimNetwork(self.dispatcher)
        self.ctx = instantiate(built, self.dispatcher, self.network)
        self.clients: list = []
        self.upstreams: list = []
        self.answers = 0  # upstream connects answered (accepted or refused), as RuntimeWorld counts them

    def connect(self, listener, local, remote) -> None:
        sock = sim.SimSocket(READ_SIZE)
        conn = listener.create_connection(self.ctx, sock, local, remote)
        if conn is not None:
            sock.conn = conn
        else:
            sock.is_closed = True
        self.clients.append(ReferencePeer(sock, self.capacity))

    def pending(self) -> list:
        return [c for c in self.network.pending if c.state is not State.CLOSED]

    def answer(self, k: int, accept: bool) -> None:
        pending = self.pending()
        if not pending:
            return
        self.answers += 1
        conn = pending[k % len(pending)]
        if accept:
            self.network.complete_connect(conn)
            self.upstreams.append(ReferencePeer(conn.io, self.capacity))
        else:
            self.network.fail_connect(conn)

    def settle(self) -> None:
        """Posted work and the transports' moves, until neither does anything."""
        for _ in range(MAX_ROUNDS):
            ran = self.dispatcher.run_posted()
            self.dispatcher.io_begin()
            moved = False
            for peer in self.clients + self.upstreams:
                moved = peer.transport_moves() or moved
            moved = self.dispatcher.io_done() or moved
            if not ran and not moved:
                return
        raise RuntimeError("the reference world never settles")

    def advance(self, ms: int) -> None:
        """Time passes as on the loop: the transports move after each timer, not only at the end."""
        target = self.dispatcher.now_ms() + ms
        while (deadline := self.dispatcher.next_deadline()) is not None and deadline <= target:
            self.dispatcher.advance(max(0, deadline - self.dispatcher.now_ms()))
            self.settle()
        self.dispatcher.advance(target - self.dispatcher.now_ms())
        self.settle()
