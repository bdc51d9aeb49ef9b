"""A simulated kernel under asyncio's own selector event loop, so the runtime harness runs the proxy's
real asyncio glue (proxy/server.py, proxy/_server_socket.py, proxy/admin.py) and asyncio's real
transports deterministically, in memory and in virtual time.

Only what sits under asyncio is replaced: sockets (`KernelSocket`: a TCP connection is two byte
queues of `capacity` bytes each, send buffer and receive buffer together), the selector
(`KernelSelector`: a socket is readable or writable from its queues' state) and the clock
(`VirtualLoop.time`: when nothing is ready the selector jumps the clock to the next timer, so
timeouts run in no real time). `VirtualLoop.create_server` / `create_connection` bind and connect
these sockets instead of real ones, then hand them to asyncio's own Server and socket transports.

The far ends (clients of listeners, upstream servers) are `Peer`s the driver moves by hand: a peer
sends into its queue as far as the capacity allows and keeps the rest, as a blocking writer would
(pushed on as the proxy reads), reads what the proxy sent, half closes (FIN) or resets (RST).
"""

import asyncio
import errno
import math
import selectors
import socket
from asyncio import selector_events

from fuzz import private_api

FD_BASE = 1 << 20  # far above any real descriptor (the loop's self-pipe is a real socketpair)


class Deadlock(RuntimeError):
    """The loop would wait for ever: nothing ready, no timer (a harness bug, never a finding)."""


class Queue:
    """One direction of a connection: bytes in flight, the end of stream behind them, or a reset."""

    __slots__ = ("data", "capacity", "end", "reset", "ever_full")

    def __init__(self, capacity: int) -> None:
        self.data = bytearray()
        self.capacity = capacity
        self.end = False  # FIN queued behind the data
        self.reset = False
        self.ever_full = False

    def room(self) -> int:
        return max(0, self.capacity - len(self.data))

    def put(self, data) -> int:
        n = min(len(data), self.room())
        self.data += data[:n]
        if not self.room():
            self.ever_full = True
        return n


class Peer:
    """The far end of one proxy socket: what the driver does as a client or upstream server."""

    def __init__(self, kernel: "Kernel", inbound: Queue, outbound: Queue, label: str) -> None:
        self.kernel = kernel
        self.to_proxy = inbound  # what the proxy reads
        self.from_proxy = outbound  # what the proxy wrote
        self.label = label
        self.outbox = bytearray()  # sent, not yet taken by the kernel (a blocked writer)
        self.outbox_end = False
        self.sent = bytearray()
        self.received = bytearray()
        self.saw_end = False  # read the proxy's FIN
        self.saw_reset = False
        self.did_reset = False
        self.closed = False  # this side sent FIN or RST
        self.accepted = False  # the process took its connection from the accept queue

    def send(self, data: bytes, end: bool = False) -> None:
        if self.closed or self.did_reset:
            return
        self.sent += data
        self.outbox += data
        self.outbox_end = self.outbox_end or end
        self.closed = self.closed or end
        self.push()

    def push(self) -> None:
        q = self.to_proxy
        if q.reset:
            self.outbox.clear()
            return
        if self.outbox:
            del self.outbox[: q.put(self.outbox)]
        if self.outbox_end and not self.outbox:
            q.end = True

    def read(self, n: int | None = None) -> bytes:
        q = self.from_proxy
        if q.reset:
            self.saw_reset = True
            return b""
        take = len(q.data) if n is None else min(n, len(q.data))
        out = bytes(q.data[:take])
        del q.data[:take]
        self.received += out
        if q.end and not q.data:
            self.saw_end = True
        return out

    def close(self) -> None:
        """Half close: FIN after what is still in the outbox."""
        self.send(b"", True)

    def reset(self) -> None:
        if self.did_reset:
            return
        self.did_reset = self.closed = True
        self.outbox.clear()
        for q in (self.to_proxy, self.from_proxy):
            q.data.clear()
            q.reset = True

    @property
    def unread(self) -> bool:
        """The proxy wrote something (bytes, its FIN, a reset) this peer has not read yet."""
        q = self.from_proxy
        if q.reset:
            return not self.saw_reset
        return bool(q.data) or (q.end and not self.saw_end)


class _NoPeer:
    """The far end of a socketpair's socket: a socket of the loop's, not a peer of the driver's."""

    def push(self) -> None:
        pass


class KernelSocket:
    """A non-blocking stream socket with the methods asyncio's selector loop and transports call."""

    family, type, proto = socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP

    def __init__(self, kernel: "Kernel", local=None, remote=None) -> None:
        self.kernel = kernel
        self.fd = kernel.next_fd()
        self.local, self.remote = local, remote
        self.rx: Queue | None = None  # what this socket reads (a peer sends into it)
        self.tx: Queue | None = None  # what this socket writes (a peer reads it)
        self.listening = False
        self.backlog: list = []  # accepted connections not yet taken, listening sockets only
        self.connecting: str | None = None  # "pending", "up" or "refused" while connect() runs
        self.shut_wr = False
        self.is_closed = False
        self.peer: Peer | _NoPeer | None = None
        kernel.sockets.append(self)
        kernel.by_fd[self.fd] = self

    # descriptor
    def fileno(self) -> int:
        return -1 if self.is_closed else self.fd

    def setblocking(self, flag) -> None:
        pass

    def gettimeout(self):
        return 0.0

    def setsockopt(self, *args) -> None:
        pass

    def getsockopt(self, level, option, *args):
        if (level, option) == (socket.SOL_SOCKET, socket.SO_ERROR):
            if self.connecting == "pending":
                raise BlockingIOError(errno.EINPROGRESS, "connecting")
            return errno.ECONNREFUSED if self.connecting == "refused" else 0
        return 0

    def getsockname(self):
        return self.local

    def getpeername(self):
        # Linux forgets the peer once its RST arrived, on a socket not yet accepted too.
        if self.remote is None or (self.rx is not None and self.rx.reset):
            raise OSError(errno.ENOTCONN, "not connected")
        return self.remote

    # listening
    def listen(self, backlog=0) -> None:
        self.listening = True

    def accept(self):
        if not self.backlog:
            raise BlockingIOError(errno.EAGAIN, "no connection")
        failure = self.kernel.take_accept_failure()
        if failure:  # out of descriptors (or memory): the connection waits in the backlog, as on Linux
            raise OSError(failure, errno.errorcode[failure])
        conn = self.backlog.pop(0)
        if isinstance(conn.peer, Peer):
            conn.peer.accepted = True
        return conn, conn.remote

    # connecting
    def connect(self, address) -> None:
        self.remote = tuple(address[:2])
        self.local = ("127.0.0.1", 40000 + len(self.kernel.upstreams))
        self.connecting = "pending"
        self.kernel.upstreams.append(self)
        raise BlockingIOError(errno.EINPROGRESS, "connecting")

    # data
    def recv_into(self, buf, nbytes=0) -> int:
        q = self._connected_queue(self.rx)
        if q.reset:
            raise ConnectionResetError(errno.ECONNRESET, "reset by peer")
        n = min(len(buf), len(q.data))
        if nbytes:
            n = min(n, nbytes)
        if not n:
            if q.end:
                return 0
            raise BlockingIOError(errno.EAGAIN, "nothing to read")
        buf[:n] = q.data[:n]
        del q.data[:n]
        assert self.peer is not None, "a connected socket has its peer"
        self.peer.push()  # room freed: a blocked peer writes on
        return n

    def sendmsg(self, buffers, *args) -> int:
        """Python 3.12+ transports write their buffer with sendmsg."""
        return self.send(b"".join(bytes(b) for b in buffers))

    def recv(self, n) -> bytes:
        buf = bytearray(n)
        return bytes(buf[: self.recv_into(buf)])

    def send(self, data) -> int:
        q = self._connected_queue(self.tx)
        if q.reset:
            raise ConnectionResetError(errno.ECONNRESET, "reset by peer")
        if self.shut_wr:
            raise BrokenPipeError(errno.EPIPE, "shut down for writing")
        n = q.put(bytes(data))
        if not n:
            raise BlockingIOError(errno.EAGAIN, "send buffer full")
        return n

    def shutdown(self, how) -> None:
        if self.tx is not None and self.tx.reset:
            raise OSError(errno.ENOTCONN, "not connected")  # Linux, once the peer's RST arrived
        if how in (socket.SHUT_WR, socket.SHUT_RDWR) and self.tx is not None:
            self.shut_wr = True
            self.tx.end = True

    def close(self) -> None:
        if self.is_closed:
            return
        self.is_closed = True
        if self.listening:
            # Linux resets the connections still in the accept queue of a listening socket that
            # closes (inet_csk_listen_stop): a client the process never took hears a reset.
            for queued in self.backlog:
                queued.drop_unaccepted()
            self.backlog.clear()
        if self.connecting == "pending":
            self.connecting = "refused"  # abandoned: a later accept by the driver finds it gone
        if self.tx is not None:
            self.tx.end = True  # the FIN follows whatever is still queued
        if self.rx is not None:
            self.rx.data.clear()  # unread input is dropped; the peer's later sends go nowhere
            self.rx.reset = True

    def drop_unaccepted(self) -> None:
        """Its listening socket closed before the process accepted it: reset both ways."""
        self.is_closed = True
        for q in (self.rx, self.tx):
            if q is not None:
                q.data.clear()
                q.reset = True

    def _connected_queue(self, q: Queue | None) -> Queue:
        if q is None or self.is_closed:
            raise OSError(errno.ENOTCONN, "not connected")
        return q

    # readiness, for the selector
    def readable(self) -> bool:
        if self.listening:
            return bool(self.backlog)
        q = self.rx
        return q is not None and (bool(q.data) or q.end or q.reset)

    def writable(self) -> bool:
        if self.connecting == "pending":
            return False
        if self.connecting == "refused":
            return True
        q = self.tx
        return q is not None and (q.room() > 0 or q.reset)


class Kernel:
    """Every socket of one run: listening addresses, accepted and connecting sockets, their peers."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.sockets: list[KernelSocket] = []
        self.listeners: dict[tuple, KernelSocket] = {}
        self.upstreams: list[KernelSocket] = []  # in the order the proxy connected them
        self.by_fd: dict[int, KernelSocket] = {}
        self._fd = FD_BASE
        self.accept_failures: list[int] = []  # errnos the next accept(2) calls fail with
        self.accept_failures_made = 0

    def exhaust_descriptors(self, accepts: int) -> None:
        """The process is out of resources for its next `accepts` accept(2) calls on any listening
        socket: EMFILE (descriptors), ENFILE, ENOBUFS, ENOMEM in turn. Transient, as when clients
        holding descriptors leave: `restore_descriptors` ends it."""
        kinds = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
        self.accept_failures += [kinds[(len(self.accept_failures) + i) % len(kinds)] for i in range(accepts)]

    def restore_descriptors(self) -> None:
        self.accept_failures.clear()

    def take_accept_failure(self) -> int:
        if not self.accept_failures:
            return 0
        self.accept_failures_made += 1
        return self.accept_failures.pop(0)

    def next_fd(self) -> int:
        self._fd += 1
        return self._fd

    def _pair(self, sock: KernelSocket, label: str) -> Peer:
        sock.rx, sock.tx = Queue(self.capacity), Queue(self.capacity)
        sock.peer = Peer(self, sock.rx, sock.tx, label)
        return sock.peer

    def bind(self, address) -> KernelSocket:
        host, port = address[:2]
        if (host, port) in self.listeners and not self.listeners[(host, port)].is_closed:
            raise OSError(errno.EADDRINUSE, f"address in use: {host}:{port}")
        sock = KernelSocket(self, local=(host, port))
        self.listeners[(host, port)] = sock
        return sock

    def dial(self, address, source) -> Peer | None:
        """A client connects to a listening address: its peer, or None when refused."""
        listener = self.listeners.get(tuple(address[:2]))
        if listener is None or listener.is_closed or not listener.listening:
            return None
        host = address[0] if address[0] not in ("0.0.0.0", "::") else "127.0.0.1"
        sock = KernelSocket(self, local=(host, address[1]), remote=source)
        peer = self._pair(sock, f"client {source[0]}:{source[1]}")
        listener.backlog.append(sock)
        return peer

    def answer(self, sock: KernelSocket, accept: bool) -> Peer | None:
        """The upstream server answers a pending connect: accepted (its peer) or refused."""
        if sock.connecting != "pending" or sock.is_closed:
            return None
        if not accept:
            sock.connecting = "refused"
            return None
        sock.connecting = "up"
        return self._pair(sock, f"upstream {sock.remote[0]}:{sock.remote[1]}")

    def socketpair(self) -> tuple[KernelSocket, KernelSocket]:
        """Two connected sockets, each reading what the other writes (socket.socketpair)."""
        a = KernelSocket(self, local=("pair", 0), remote=("pair", 1))
        b = KernelSocket(self, local=("pair", 1), remote=("pair", 0))
        a.rx = b.tx = Queue(self.capacity)
        a.tx = b.rx = Queue(self.capacity)
        a.peer = b.peer = _NoPeer()  # a blocked writer on the other side is woken by the selector
        return a, b

    def channel(self, label: str) -> tuple[KernelSocket, Peer]:
        """A connected socket with no listener behind it (one end of a socketpair) and its far end."""
        sock = KernelSocket(self, local=("channel", 0), remote=("channel", len(self.sockets)))
        return sock, self._pair(sock, label)

    def pending_connects(self) -> list[KernelSocket]:
        return [s for s in self.upstreams if s.connecting == "pending" and not s.is_closed]

    def open_sockets(self) -> list[KernelSocket]:
        return [s for s in self.sockets if not s.is_closed and not s.listening]


class KernelSelector(selectors.BaseSelector):
    """Readiness from the kernel's queues. With nothing ready it moves the virtual clock to the
    next timer instead of sleeping."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._keys: dict[int, selectors.SelectorKey] = {}
        self.loop: "VirtualLoop | None" = None

    def register(self, fileobj, events, data=None):
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        key = selectors.SelectorKey(fileobj, fd, events, data)
        self._keys[fd] = key
        return key

    def unregister(self, fileobj):
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        return self._keys.pop(fd)

    def modify(self, fileobj, events, data=None):
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        key = self._keys[fd] = selectors.SelectorKey(fileobj, fd, events, data)
        return key

    def get_map(self):
        return self._keys

    def close(self) -> None:
        self._keys.clear()

    def ready(self) -> list:
        out = []
        by_fd = self.kernel.by_fd
        for fd, key in list(self._keys.items()):
            sock = by_fd.get(fd)  # None for the loop's real self-pipe: never written in a run
            if sock is None:
                continue
            mask = 0
            if key.events & selectors.EVENT_READ and sock.readable():
                mask |= selectors.EVENT_READ
            if key.events & selectors.EVENT_WRITE and sock.writable():
                mask |= selectors.EVENT_WRITE
            if mask:
                out.append((key, mask))
        return out

    def select(self, timeout=None):
        out = self.ready()
        if out or timeout == 0:
            return out
        loop = self.loop
        assert loop is not None, "set by VirtualLoop"
        scheduled = [h for h in loop.timers() if not h.cancelled()]
        if not scheduled:
            raise Deadlock("the loop waits on nothing")
        loop.jump_to(min(h.when() for h in scheduled))
        return out


class VirtualLoop(selector_events.BaseSelectorEventLoop):
    """asyncio's selector event loop over a Kernel, in virtual time.

    The clock is whole microseconds (`us`), read as seconds a quarter microsecond late: a reader
    that takes whole milliseconds of `time() - time_at_start` (proxy.event.AsyncioDispatcher) gets
    exactly us // 1000, which the float of us / 1e6 alone would not always give."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.us = 0
        self.armed = 0  # timers armed so far
        self.handlers: dict[int, tuple] = {}  # signal handlers, which the driver delivers
        selector = KernelSelector(kernel)
        super().__init__(selector)
        selector.loop = self

    def add_signal_handler(self, sig, callback, *args) -> None:  # type: ignore[override]
        self.handlers[sig] = (callback, args)

    def remove_signal_handler(self, sig) -> bool:
        return self.handlers.pop(sig, None) is not None

    def deliver(self, sig: int) -> None:
        """Signal `sig` arrives: its handler runs on the loop, as asyncio's do (never inside another
        callback)."""
        if sig in self.handlers:
            callback, args = self.handlers[sig]
            self.call_soon(callback, *args)

    def time(self) -> float:
        return self.seconds_at(self.us)

    def call_at(self, when, callback, *args, context=None):
        # Timers due at one moment fire in the order they were armed, as on a real clock (which never
        # stands still between two armings) and as SimulatedDispatcher's do; asyncio's heap alone
        # orders equal times arbitrarily. A step of 1e-13 s per arming stays far below a microsecond.
        self.armed += 1
        return super().call_at(when + self.armed * 1e-13, callback, *args, context=context)

    @staticmethod
    def seconds_at(us: int) -> float:
        return 0.0 if us == 0 else (us + 0.25) / 1e6

    def jump_to(self, when: float) -> None:
        """Move the clock to the first microsecond whose time() is `when` or later."""
        self.us = max(self.us, math.ceil(when * 1e6 - 0.25))

    async def sleep_until(self, us: int) -> None:
        """Let the loop run until the clock reads `us` (timers due by then fire in order)."""
        done = self.create_future()
        self.call_at(self.seconds_at(us), done.set_result, None)
        await done

    # asyncio's own state, read (never changed) to know when the loop is at rest.
    def timers(self) -> list:
        return private_api.selector_loop_part(self, "_scheduled")

    def transport_of(self, fd: int):
        """asyncio's transport of descriptor `fd`, or None."""
        return private_api.selector_loop_part(self, "_transports").get(fd)

    def quiet(self) -> bool:
        """Nothing to run now: no callback ready, no socket ready, no timer due."""
        selector = private_api.selector_loop_part(self, "_selector")
        assert isinstance(selector, KernelSelector), "the kernel's selector"
        if private_api.selector_loop_part(self, "_ready") or selector.ready():
            return False
        now = self.time()
        return not any(h.when() <= now and not h.cancelled() for h in self.timers())

    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        # Names resolve to themselves: the kernel routes by the configured address.
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]

    async def create_server(self, protocol_factory, host=None, port=None, **kwargs):
        sock = self.kernel.bind((host, port))
        server = private_api.asyncio_server_class()(self, [sock], protocol_factory, None, 100, None, None)
        server._start_serving()
        await asyncio.sleep(0)
        return server

    async def create_connection(self, protocol_factory, host=None, port=None, **kwargs):
        make = private_api.selector_loop_part(self, "_create_connection_transport")
        if kwargs.get("sock") is not None:  # a socket connected already (Kernel.channel)
            return await make(kwargs["sock"], protocol_factory, None, None)
        sock = KernelSocket(self.kernel)
        try:
            await self.sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        return await make(sock, protocol_factory, None, None)
