"""The parent of `--concurrency 1` beside the runtime harness's server: proxy/workers.py's supervisor
serves the admin from the server's own snapshots, which WorkerSide sends over a socketpair in the
simulated kernel, as a worker process does. So the harness's admin oracles judge the admin a user of
`--concurrency N` talks to (answers that wait for the workers), and the worker's side of the channel.
A stop is SIGTERM to the parent, forwarded to the worker; a second one ends the drain over the channel.
"""

import asyncio
import contextlib
import signal

from proxy import workers

PID = 4000


class _OneProcess:
    """kill and waitpid for the one simulated worker (proxy.workers._Processes): SIGTERM starts its
    drain, as in run_process; any later one changes nothing."""

    def __init__(self, world) -> None:
        self.world = world
        self.status: int | None = None  # waitpid's status once it exited
        self.signals: list[int] = []

    def kill(self, pid: int, signum: int) -> None:
        self.signals.append(signum)
        if signum == signal.SIGTERM and self.status is None:
            self.world.begin_stop()

    def waitpid(self, pid: int) -> tuple[int, int]:
        return (0, 0) if self.status is None else (pid, self.status)

    def unblock_signals(self) -> None:
        pass


class ParentOfOne:
    def __init__(self, world, admin_sock) -> None:
        self.world = world
        self.admin_sock = admin_sock
        parent_end, worker_end = world.kernel.socketpair()
        self.side = workers.WorkerSide(0, {}, worker_end, buckets=None, log_lock=None)  # type: ignore[arg-type]
        self.process = _OneProcess(world)
        handle = workers._Worker(0, PID, parent_end)
        self.supervisor = workers._Supervisor(world.built, [handle], self.process)
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await self.side.serving(self.world.server, asyncio.Event())
        self.task = loop.create_task(self.supervisor.run(self.admin_sock))
        await asyncio.sleep(0)

    async def stop(self) -> None:
        """After the server stopped: the worker's final counts, its exit, SIGCHLD; the parent returns 0."""
        await self.side.stopped(self.world.server)
        self.process.status = 0
        self.world.loop.deliver(signal.SIGCHLD)
        assert self.task is not None, "started"
        code = await self.task
        assert code == 0, f"the parent of one worker that exited 0 exits {code}"


@contextlib.contextmanager
def status_lines_to(sink):
    """The parent's status lines (proxy.workers.say) go to `sink`, not to the fuzzer's stderr."""
    say = workers.say
    setattr(workers, "say", sink)  # noqa: B010 - mypy: a module's function
    try:
        yield
    finally:
        setattr(workers, "say", say)  # noqa: B010
