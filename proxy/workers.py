"""`python -m proxy -c FILE --concurrency N`: N worker processes serving the same listeners.

Python's GIL caps one process at one core, so, like Envoy's workers but as processes (the
pre-fork model of nginx):

  * the parent binds every listener (and the admin) once, before any fork: ephemeral ports and
    the bound addresses are shared, there is no SO_REUSEPORT race, and a busy port is an error
    before anything starts;
  * it forks N workers; each runs its own loop and Server (proxy/server.py's `run_process`) over the
    inherited listening sockets, accepting on its own, with its own ServerContext, stats and
    upstream pools;
  * the parent serves the admin, summing the workers' counters and gauges, which it asks for
    over one socketpair per worker: a line with a request id out, one JSON line back;
  * SIGINT/SIGTERM to the parent reach every worker as SIGTERM (a second one ends their drain,
    said over the socketpair); the parent exits 0 once all have exited 0. A worker that exits on
    its own stops the rest, and the parent exits 1 unless that worker exited 0 (it was signalled
    itself, as by a signal to the whole process group). Workers die with the parent
    (PR_SET_PDEATHSIG, and EOF on the socketpair where that is unavailable).
"""

import asyncio
import ctypes
import json
import multiprocessing
import os
import signal
import socket
import sys
import traceback
from collections.abc import Awaitable
from types import SimpleNamespace

from . import startup_signals
from .admin import TEXT, AdminHandler, Answer, request_path
from .build import instantiate
from .http.access_log import open_sink
from .server import bind_listener, run_process, say, serve_admin
from .shared_buckets import SharedBuckets
from .stats import Stats

ADMIN_TIMEOUT_S = 2.0  # how long the admin waits for a worker's snapshot before answering 503
_LINE_LIMIT = 1 << 24  # a snapshot is one JSON line
_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def serve_workers(built, concurrency: int, drain_timeout_s: float) -> int:
    """Bind, fork `concurrency` workers, supervise them; the exit status of the whole proxy."""
    try:
        sockets = {listener.name: bind_listener(listener.address) for listener in built.listeners}
        admin = bind_listener(built.admin_address) if built.admin_address is not None else None
    except OSError as exc:
        say(f"error: cannot listen: {exc}")
        return 1
    # Held until each process's loop has its handlers: a signal in between is delivered then.
    startup_signals.hold()  # python -m proxy held them already; serve_workers may be called alone
    for name, sock in sockets.items():
        host, port = sock.getsockname()[:2]
        say(f"proxy: listener {name} on {host}:{port}")
    parent_pid = os.getpid()
    buckets = SharedBuckets()  # rate limits are per proxy, not per worker (shared_buckets.py)
    log_lock = multiprocessing.Lock()  # one access log line at a time (access_log.StreamSink)
    workers, parent_ends = [], []
    for index in range(concurrency):
        ours, theirs = socket.socketpair()
        parent_ends.append(ours)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            for sock in parent_ends + ([admin] if admin else []):
                sock.close()  # only the parent's copy may hold the channel open: EOF means it is gone
            _run_worker(parent_pid, built, WorkerSide(index, sockets, theirs, buckets, log_lock), drain_timeout_s)
        theirs.close()
        workers.append(_Worker(index, pid, ours))
        say(f"proxy: worker {index} pid {pid}")
    for sock in sockets.values():
        sock.close()  # the workers hold them: once they close theirs, the ports are closed
    return asyncio.run(_Supervisor(built, workers).run(admin))


# -- a worker ---------------------------------------------------------------------------------


def _run_worker(parent_pid, built, side: "WorkerSide", drain_timeout_s) -> None:
    """The child after fork: serve, then leave without returning into the parent's stack."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which forwards it
        _die_with_parent()
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)
        code = asyncio.run(run_process(built, drain_timeout_s, worker=side))
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _die_with_parent() -> None:
    """Linux: SIGTERM (a drain) when the parent dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: EOF on the channel does it


class WorkerSide:
    """What `proxy.server.run_process` is given in a worker: the sockets, the channel to the parent,
    and what every worker shares: the token buckets and the access log lock."""

    def __init__(self, index: int, sockets: dict, channel: socket.socket, buckets: SharedBuckets, log_lock) -> None:
        self.index = index
        self.buckets = buckets
        self.log_lock = log_lock
        self.sockets = sockets
        self.channel = channel
        self._writer: asyncio.StreamWriter | None = None

    def instantiate(self, built, dispatcher, network):
        """The worker's ServerContext, with the shared token buckets and access log lock."""
        ctx = instantiate(built, dispatcher, network)
        ctx.token_buckets = self.buckets.bucket
        ctx.open_access_log = lambda spec: open_sink(spec, self.log_lock)
        return ctx

    async def serving(self, server, stop: asyncio.Event) -> None:
        reader, self._writer = await asyncio.open_connection(sock=self.channel, limit=_LINE_LIMIT)
        self._send(None, server)  # the first message says "ready"
        asyncio.get_running_loop().create_task(self._answer(reader, server, stop))
        startup_signals.release()

    async def _answer(self, reader, server, stop) -> None:
        while line := await reader.readline():
            if line == b"close\n":
                server.end_drain()
            else:
                self._send(int(line), server)
        stop.set()  # EOF: the parent is gone

    async def stopped(self, server) -> None:
        self._send(None, server)  # the final counts, for the admin while the others still drain
        assert self._writer is not None, "serving() opened the channel"
        try:
            self._writer.close()
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)
        except (OSError, asyncio.TimeoutError):
            pass

    def _send(self, request_id, server) -> None:
        assert self._writer is not None, "serving() opened the channel"
        if self._writer.is_closing():
            return
        snapshot = server.ctx.stats.snapshot()
        self._writer.write(
            json.dumps(
                {
                    "id": request_id,
                    "started": server.started,
                    "draining": server.draining,
                    "counters": snapshot["counters"],
                    "gauges": snapshot["gauges"],
                    "buffered_bytes": server.buffered_bytes(),
                }
            ).encode()
            + b"\n"
        )


# -- the parent -------------------------------------------------------------------------------


class _Worker:
    """The parent's handle on one worker process."""

    def __init__(self, index: int, pid: int, channel: socket.socket) -> None:
        self.index, self.pid, self.channel = index, pid, channel
        self.writer: asyncio.StreamWriter | None = None
        self.last: dict | None = None  # its latest message: a snapshot
        self.exit_code = None  # os.waitstatus_to_exitcode: negative for a signal
        self.hung_up = False  # its channel ended: it stopped (or died), its signal handlers are gone
        self.replies: dict[int, asyncio.Future] = {}

    @property
    def name(self) -> str:
        return f"worker {self.index} (pid {self.pid})"


class _Processes:
    """What the supervisor does to processes (the workers harness, fuzz/targets/workers.py, gives
    its simulated ones)."""

    kill = staticmethod(os.kill)

    @staticmethod
    def waitpid(pid: int) -> tuple[int, int]:
        return os.waitpid(pid, os.WNOHANG)

    @staticmethod
    def unblock_signals() -> None:
        startup_signals.release()


class _Supervisor:
    def __init__(self, built, workers: list, processes=_Processes) -> None:
        self.built = built
        self.workers = workers
        self.processes = processes
        self.stopping = False
        self.signals = 0  # SIGINT/SIGTERM received: the second one ends the drain
        self.failed = False
        self.all_exited: asyncio.Future[None] | None = None
        self._next_id = 0

    async def run(self, admin_sock) -> int:
        loop = asyncio.get_running_loop()
        self.all_exited = loop.create_future()
        for sig in _SIGNALS:
            loop.add_signal_handler(sig, self._on_signal)
        loop.add_signal_handler(signal.SIGCHLD, self._reap)
        loop.add_signal_handler(signal.SIGUSR1, self._forward_reopen)
        loop.add_signal_handler(signal.SIGHUP, say, "proxy: caught and ignored SIGHUP; SIGTERM stops the proxy")
        self.processes.unblock_signals()
        self._reap()  # a worker may have exited before the handler was there
        for w in self.workers:
            loop.create_task(self._read(w))
        admin = None
        if admin_sock is not None:
            handler = _WorkersAdmin(self)
            admin = serve_admin(loop, admin_sock, handler)
            host, port = admin_sock.getsockname()[:2]
            say(f"proxy: admin on {host}:{port}")
        await self.all_exited
        if admin is not None:
            admin.close()
        say("proxy: stopped" if not self.failed else "proxy: stopped after a worker failure")
        return 1 if self.failed else 0

    def _on_signal(self) -> None:
        self.signals += 1
        if self.signals == 1:
            say(f"proxy: stopping {len(self.workers)} workers; signal again to close their open connections now")
            self._stop()
            return
        # Again: end the workers' drain. Said over the channel, not with another SIGTERM: a
        # signal to the whole process group has already given each worker one.
        for w in self.workers:
            if w.writer is not None:
                w.writer.write(b"close\n")

    def _forward_reopen(self) -> None:
        """SIGUSR1: each worker reopens its access logs (the parent keeps none)."""
        self._signal_running(signal.SIGUSR1)

    def _stop(self) -> None:
        """SIGTERM to every running worker (a worker takes any number of them as one)."""
        self.stopping = True
        self._signal_running(signal.SIGTERM)

    def _signal_running(self, signum: int) -> None:
        # Not a worker that hung up: with its loop gone, the default action of SIGTERM and SIGUSR1 is
        # to die (5e36346: a clean drain then exited 1), and a stopped worker needs neither.
        for w in self.workers:
            if w.exit_code is None and not w.hung_up:
                try:
                    self.processes.kill(w.pid, signum)
                except ProcessLookupError:  # exited, not yet reaped
                    pass

    def _reap(self) -> None:
        for w in self.workers:
            if w.exit_code is not None:
                continue
            pid, status = self.processes.waitpid(w.pid)
            if pid == 0:
                continue
            w.exit_code = code = os.waitstatus_to_exitcode(status)
            rest = "" if self.stopping else "; stopping the other workers"
            if code != 0:
                how = f"exited with code {code}" if code > 0 else f"was killed by {signal.Signals(-code).name}"
                say(f"proxy: {w.name} {how}{rest}")
                self.failed = True
            elif not self.stopping:
                # It drained and exited 0: it was signalled directly (e.g. the whole process group
                # was), which is a stop, not a failure; still, never run on with fewer workers.
                say(f"proxy: {w.name} stopped on a signal of its own{rest}")
            if not self.stopping:  # the others have had their SIGTERM already
                self._stop()
        exited = self.all_exited
        if all(w.exit_code is not None for w in self.workers) and exited is not None and not exited.done():
            exited.set_result(None)

    async def _read(self, w: _Worker) -> None:
        reader, w.writer = await asyncio.open_connection(sock=w.channel, limit=_LINE_LIMIT)
        while line := await _readline(reader):
            message = _message(line)
            if message is None:
                continue
            first = w.last is None
            w.last = message
            reply = w.replies.pop(w.last["id"], None)
            if reply is not None and not reply.done():
                reply.set_result(w.last)
            if first and all(x.last is not None for x in self.workers):
                say("proxy: ready")
        w.writer = None  # the worker is gone: its last message stands for it
        w.hung_up = True
        for reply in w.replies.values():
            if not reply.done():
                reply.set_result(w.last)

    async def snapshots(self, timeout: float) -> list:
        """One message per worker: a fresh one from each running worker, else its last."""

        async def ask(w):
            if w.writer is None or w.last is None:  # gone, or not ready yet (it would not answer)
                return w.last or {
                    "started": False,
                    "draining": False,
                    "counters": {},
                    "gauges": {},
                    "buffered_bytes": 0,
                }
            self._next_id += 1
            request_id = self._next_id  # a late answer to an abandoned request is dropped by id
            w.replies[request_id] = reply = asyncio.get_running_loop().create_future()
            w.writer.write(b"%d\n" % request_id)
            try:
                return await asyncio.wait_for(reply, timeout)
            except asyncio.TimeoutError:
                raise _NoAnswer(f"{w.name} did not answer within {timeout:.1f} s") from None
            finally:
                w.replies.pop(request_id, None)

        return await asyncio.gather(*(ask(w) for w in self.workers))


async def _readline(reader: asyncio.StreamReader) -> bytes:
    """The next line from a worker, b"" once its channel ended (a reset or an endless line too)."""
    try:
        return await reader.readline()
    except (OSError, ValueError):
        return b""


def _message(line: bytes) -> dict | None:
    """A worker's message, or None for what is none: the half line left by a worker killed while
    writing (json.loads raised in the reader, which then never resolved a request: 503 for a dead
    worker whose last message should stand for it, and a traceback)."""
    if not line.endswith(b"\n"):
        return None
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) and "id" in message else None


class _NoAnswer(Exception):
    pass


class _WorkersAdmin:
    """The parent's admin: AdminHandler over the workers' summed snapshots."""

    NEEDS_WORKERS = ("/ready", "/stats", "/clusters")

    def __init__(self, supervisor: _Supervisor) -> None:
        self.supervisor = supervisor

    def respond(self, method: str, target: str) -> Answer | Awaitable[Answer]:
        # The path as AdminHandler reads it: urlsplit raised on http://[::1/ (a 500 and a traceback).
        parsed = request_path(target)
        if parsed is None or parsed[0] not in self.NEEDS_WORKERS:
            return AdminHandler(_summed(self.supervisor, [])).respond(method, target)
        return self._respond(method, target)

    async def _respond(self, method: str, target: str) -> Answer:
        try:
            snapshots = await self.supervisor.snapshots(ADMIN_TIMEOUT_S)
        except _NoAnswer as exc:
            return 503, TEXT, f"{exc}\n".encode()
        return AdminHandler(_summed(self.supervisor, snapshots)).respond(method, target)


def _summed(supervisor: _Supervisor, snapshots: list):
    """What AdminHandler reads from a Server, over all workers. Counters and gauges are summed,
    as Envoy does across its workers; like Envoy, each listener's downstream_cx_total and
    downstream_cx_active are also shown per worker (listener.NAME.worker_I.STAT)."""
    stats = Stats()
    for index, snap in enumerate(snapshots):
        for name, value in snap["counters"].items():
            stats.inc(name, value)
        for name, value in snap["gauges"].items():
            stats.gauge_add(name, value)
        for listener in supervisor.built.listeners:
            prefix = f"listener.{listener.name}."
            stats.inc(
                f"{prefix}worker_{index}.downstream_cx_total", snap["counters"].get(prefix + "downstream_cx_total", 0)
            )
            stats.gauge_set(
                f"{prefix}worker_{index}.downstream_cx_active", snap["gauges"].get(prefix + "downstream_cx_active", 0)
            )
    stats.gauge_set("server.concurrency", len(supervisor.workers))
    buffered = sum(s["buffered_bytes"] for s in snapshots)
    return SimpleNamespace(
        built=supervisor.built,
        ctx=SimpleNamespace(stats=stats),
        buffered_bytes=lambda: buffered,
        started=bool(snapshots) and all(s["started"] for s in snapshots),
        draining=supervisor.stopping or any(s["draining"] for s in snapshots),
    )
