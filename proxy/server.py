"""The asyncio runtime: the only module that opens sockets.

    server = Server(build(bootstrap))
    addresses = await server.start()     # {listener name: (host, port) actually bound}
    ...
    await server.stop()                  # close listeners, drain, then close what is left

`run_process(built, ...)` runs one Server until SIGINT or SIGTERM (proxy/serve.py, what
`python -m proxy -c FILE` calls, starts one or N of them). Everything above the socket is the sans-IO core: each accepted socket gets a
Connection from its listener (filter chain chosen, filters installed), carried by a
SocketTransport (proxy/_server_socket.py); time comes from an AsyncioDispatcher.
"""

import asyncio
import logging
import os
import signal
import socket
import sys

from . import build, startup_signals
from ._server_socket import AsyncioNetwork, DownstreamTransport
from .admin import AdminHandler, AdminProtocol, Responder
from .context import ServerContext
from .event import AsyncioDispatcher
from .http import log_writer
from .network.connection import CloseType, State

log = logging.getLogger("proxy.server")

DRAIN_TIMEOUT_S = 5.0
LOG_FLUSH_TIMEOUT_S = 2.0  # for access log lines still queued when the process ends


class Server:
    """One running proxy instance on the current asyncio loop.

    `built` is a proxy.build.BuiltConfig (or anything with `.listeners`, each having `.name`,
    `.address` and `.create_connection(ctx, io, local_address, remote_address)`, and
    `.admin_address`). `instantiate(built, dispatcher, network) -> ServerContext` makes the
    per-instance state; it defaults to proxy.build.instantiate.
    """

    def __init__(self, built, *, instantiate=None, drain_timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        self.built = built
        self._instantiate = instantiate
        self.drain_timeout_s = drain_timeout_s
        self.ctx: ServerContext | None = None
        self.dispatcher: AsyncioDispatcher | None = None
        self.network: AsyncioNetwork | None = None
        self.addresses: dict[str, tuple] = {}
        self.admin_address: tuple | None = None
        self.draining = False
        self.started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[SharedListener] = []
        self._admin: SharedListener | None = None
        self._downstream: set = set()
        self._upstream: set = set()
        self._clients_gone: asyncio.Event | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, sockets: dict | None = None, admin: bool = True, admin_socket=None) -> dict[str, tuple]:
        """Bind every listener (port 0 picks a free port) and the admin listener if configured.

        `sockets` ({listener name: listening socket}) serves sockets bound elsewhere instead: the
        workers of proxy/workers.py share their parent's. `admin=False` leaves the admin to the caller;
        `admin_socket` serves it on a socket bound elsewhere.
        """
        if self.started:
            raise RuntimeError("server already started")
        loop = self._loop = asyncio.get_running_loop()
        self.dispatcher = AsyncioDispatcher(loop)
        self.network = AsyncioNetwork(loop, self.dispatcher, self)
        instantiate = self._instantiate
        if instantiate is None:
            instantiate = build.instantiate
        self.ctx = instantiate(self.built, self.dispatcher, self.network)
        self._clients_gone = asyncio.Event()
        self._clients_gone.set()
        try:
            for listener in self.built.listeners:

                def factory(peer, listener=listener):
                    return DownstreamTransport(self, loop, listener, self.ctx, peer)

                sock = bind_listener(listener.address) if sockets is None else sockets[listener.name]
                srv = SharedListener(loop, sock, factory)
                self._listeners.append(srv)
                self.addresses[listener.name] = srv.sockets[0].getsockname()[:2]
            admin_address = getattr(self.built, "admin_address", None) if admin else None
            if admin_address is not None:
                admin_sock = bind_listener(admin_address) if admin_socket is None else admin_socket
                self._admin = serve_admin(loop, admin_sock, AdminHandler(self))
                self.admin_address = admin_sock.getsockname()[:2]
        except BaseException:
            self._close_listeners()
            if self._admin is not None:
                self._admin.close()
            raise
        self.started = True
        return dict(self.addresses)

    async def stop(self, drain_timeout_s: float | None = None) -> None:
        """Stop accepting, let open connections finish for a bounded time, close the rest."""
        if not self.started:
            return
        assert self.ctx is not None and self._clients_gone is not None, "set by start()"
        self.draining = True
        self._close_listeners()
        self.ctx.start_drain()  # HTTP connections finish what is in flight and close
        timeout = self.drain_timeout_s if drain_timeout_s is None else drain_timeout_s
        try:
            await asyncio.wait_for(self._clients_gone.wait(), timeout)
        except asyncio.TimeoutError:
            log.warning(
                "drain timeout (%.1f s): closing %d open downstream connections", timeout, len(self._downstream)
            )
        else:
            if self._downstream:
                log.warning("drain ended early: closing %d open downstream connections", len(self._downstream))
        self._close_everything()
        # Let the closed sockets deliver connection_lost before the loop goes away.
        for _ in range(10):
            if not self._downstream and not self._upstream:
                break
            await asyncio.sleep(0.01)
        if self._admin is not None:
            self._admin.close()
        self.started = False

    def end_drain(self) -> None:
        """Stop waiting for open connections: a stop() in progress closes them now."""
        if self._clients_gone is not None:
            self._clients_gone.set()

    def _close_listeners(self) -> None:
        for srv in self._listeners:
            srv.close()
        self._listeners.clear()

    def _close_everything(self) -> None:
        for transport in list(self._downstream) + list(self._upstream):
            conn = transport.conn
            if conn is not None and conn.state is not State.CLOSED:
                transport._guarded(lambda conn=conn: conn.close(CloseType.NO_FLUSH))
            if transport.transport is not None:
                transport.transport.abort()
            task = getattr(transport, "task", None)
            if task is not None and not task.done():
                task.cancel()

    # -- what tests and the admin read -------------------------------------------------------

    def buffered_bytes(self) -> int:
        """Bytes held by the proxy's connections: read + write buffers (and held input)."""
        return sum(t.buffered_bytes() for t in list(self._downstream) + list(self._upstream))

    def transport_buffered_bytes(self) -> int:
        """Bytes queued in asyncio's own transport write buffers (kept at most one chunk each)."""
        return sum(t.transport_buffered_bytes() for t in list(self._downstream) + list(self._upstream))

    def open_connections(self) -> tuple[int, int]:
        """(downstream, upstream) transports that are still open."""
        return len(self._downstream), len(self._upstream)

    # -- registry interface used by the transports ------------------------------------------

    def add(self, transport, downstream: bool) -> None:
        (self._downstream if downstream else self._upstream).add(transport)
        if downstream and self._clients_gone is not None:
            self._clients_gone.clear()
        self._update_gauges()

    def discard(self, transport) -> None:
        self._downstream.discard(transport)
        self._upstream.discard(transport)
        self._update_gauges()
        if not self._downstream:
            # Upstream connections serve downstream ones: once no client is left, what the
            # pools still hold is idle and closed without waiting.
            if self._clients_gone is not None:
                self._clients_gone.set()

    def count_error(self) -> None:
        if self.ctx is not None:
            self.ctx.stats.inc("server.unhandled_errors")

    def _update_gauges(self) -> None:
        if self.ctx is not None:
            self.ctx.stats.gauge_set("server.downstream_cx_active", len(self._downstream))
            self.ctx.stats.gauge_set("server.upstream_cx_active", len(self._upstream))


def bind_listener(address) -> socket.socket:
    """A listening socket for a listener's (or the admin's) address, before anything accepts."""
    host, port = address  # an IP address (the schema says so)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=511)


class SharedListener:
    """Accepts on a listening socket, which other processes may accept on too (proxy/workers.py),
    one connection per wake-up: asyncio's create_server takes up to `backlog` at once, so a burst of
    connections would all go to whichever worker woke first. Like that, a busy worker (slower
    to wake) takes fewer. Out of descriptors it pauses a second with one warning; asyncio's own
    accept loop logged a traceback per attempt, up to `backlog` a second (seen live: 9.5 MB of
    stderr and a quarter of a core in 5 s of a client holding 400 connections over `ulimit -n
    200`), so a single process accepts here too. `protocol_factory(peer)` is given the address
    accept(2) returned. Has what Server uses of an asyncio server:
    `.sockets`, `.close()`."""

    def __init__(self, loop, sock, protocol_factory) -> None:
        self._loop, self._sock, self._factory = loop, sock, protocol_factory
        self.sockets = [sock]
        self._adopting: set = set()  # tasks of accepted sockets becoming transports
        self._resume = None
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        try:
            conn, peer = self._sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # another worker took it
        except OSError as exc:  # out of descriptors or memory: pause for a second, as asyncio does
            log.warning("accept failed (%s): not accepting for 1 s", exc)
            self._loop.remove_reader(self._sock.fileno())
            self._resume = self._loop.call_later(1.0, self._loop.add_reader, self._sock.fileno(), self._accept)
            return
        task = self._loop.create_task(self._adopt(conn, peer))
        self._adopting.add(task)
        task.add_done_callback(self._adopting.discard)

    async def _adopt(self, conn, peer) -> None:
        # The factory is given the peer's address as accept(2) said it: a peer that resets before
        # its transport exists is forgotten by the kernel (getpeername: ENOTCONN); Envoy, too, keeps
        # the address accept(2) returned.
        try:
            await self._loop.connect_accepted_socket(lambda: self._factory(peer), conn)
        except OSError:
            conn.close()

    def close(self) -> None:
        if self._resume is not None:
            self._resume.cancel()
        if self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()


def serve_admin(loop, sock, handler: Responder) -> SharedListener:
    """The admin on its bound socket, accepted as the listeners are: asyncio's create_server, out of
    descriptors, logged a traceback per failed accept and then served nothing (seen live)."""
    return SharedListener(loop, sock, lambda peer: AdminProtocol(handler))


def say(message: str) -> None:
    """A status line on stderr in one write(2): worker processes share the pipe, and print()
    unbuffered (PYTHONUNBUFFERED) writes the text and its newline apart, so lines interleave."""
    try:
        sys.stderr.flush()
        os.write(sys.stderr.fileno(), (message + "\n").encode(errors="replace"))
    except (AttributeError, OSError, ValueError):  # no real file behind sys.stderr, or none left
        try:
            print(message, file=sys.stderr, flush=True)
        except (OSError, ValueError):
            # stderr's reader is gone (`... 2>&1 | head`, a log shipper that died): a status line is
            # not worth a request. Raising here ended a SIGTERM's drain before it began.
            pass


async def run_process(built, drain_timeout_s: float, worker=None) -> int:
    """One process's life, until SIGINT/SIGTERM (proxy/serve.py starts one or N of them). `worker` (proxy.workers.WorkerSide) when this is one of several: it
    hands over the parent's listening sockets and reports to the parent, which announces the
    addresses, serves the admin and forwards signals (so only SIGTERM is taken here)."""
    loop = asyncio.get_running_loop()
    server = Server(built, drain_timeout_s=drain_timeout_s, instantiate=None if worker is None else worker.instantiate)
    try:
        if worker is None:
            addresses = await server.start()
        else:
            addresses = await server.start(sockets=worker.sockets, admin=False)
    except OSError as exc:
        print(f"error: cannot listen: {exc}", file=sys.stderr)
        return 1

    def on_loop_error(loop, context):
        # Timers and posted callbacks of the core run outside the transports' guard: count them too.
        server.count_error()
        loop.default_exception_handler(context)

    loop.set_exception_handler(on_loop_error)
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM) if worker is None else (signal.SIGTERM,)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, log_writer.reopen_all)  # Envoy's: reopen the access logs
    # Envoy "caught and eating SIGHUP": a closed terminal or a reload-by-HUP supervisor must not
    # kill the proxy (the default action), with its requests in flight.
    loop.add_signal_handler(signal.SIGHUP, say, "proxy: caught and ignored SIGHUP; SIGTERM stops the proxy")
    if worker is None:
        startup_signals.release()  # held since start-up (a worker's are released by WorkerSide.serving)
        prefix = "proxy:"
        for name, (host, port) in addresses.items():
            say(f"proxy: listener {name} on {host}:{port}")
        if server.admin_address is not None:
            say(f"proxy: admin on {server.admin_address[0]}:{server.admin_address[1]}")
        say("proxy: ready")
    else:
        prefix = f"proxy: worker {worker.index}:"
        await worker.serving(server, stop)
    await stop.wait()
    down, up = server.open_connections()
    say(f"{prefix} draining ({down} downstream, {up} upstream connections open); signal again to close them now")
    if worker is None:  # a worker's drain is ended by its parent (proxy/workers.py)
        for sig in signals:
            loop.add_signal_handler(sig, server.end_drain)
    await server.stop()
    log_writer.flush_all(LOG_FLUSH_TIMEOUT_S)  # the access log lines still queued
    if worker is not None:
        await worker.stopped(server)
    say(f"{prefix} stopped")
    # Closing the loop puts SIG_DFL back, and a late SIGTERM (the parent's, once another worker
    # exited, or a second kill) would then end a process that stopped cleanly with -SIGTERM.
    signal.pthread_sigmask(signal.SIG_BLOCK, {*signals, signal.SIGUSR1, signal.SIGHUP})
    return 0
