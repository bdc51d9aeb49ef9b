"""The parent of `--concurrency N` (proxy/workers.py `_Supervisor`) with simulated workers: no fork,
fake pids, a fake kill/waitpid layer, the workers' channels and the admin on the simulated kernel
of the runtime harness (fuzz/targets/runtime_kernel.py), in virtual time, under asyncio's own loop.

Input layout:
    byte 0     workers (1..MAX_WORKERS), which of them answer every snapshot request at once, and
               the channels' capacity (CHANNEL_CAPACITIES)
    rest       actions, one op byte and one operand byte each (OPS)

A simulated worker (`SimWorker`) keeps run_process's contract (proxy/server.py): its signals are
held until it says it is ready and once it stopped; SIGTERM starts its drain (any number of them
are one), SIGINT is ignored (the parent forwards it), SIGUSR1 and SIGHUP change nothing it says;
`close` on the channel ends its drain. The input decides everything else: when it is ready, whether
and when it answers a snapshot request, when it finishes its drain, and when it exits (0, 1, killed,
killed in the middle of a line), and when the parent gets SIGCHLD.

Oracles, from what a user of `--concurrency N` relies on:
  * the exit status is 0 iff every worker exited 0; the parent returns once all have exited, and
    no worker is left running (a stop or a failure stops them all: once the parent has reaped a
    worker, every other one running has had SIGTERM, before any user stops the proxy);
  * no worker is signalled after it was reaped (its pid may be another process's), nor after it hung
    up its channel (it stopped or died: its handlers are gone);
  * a second SIGINT/SIGTERM ends every worker's drain;
  * the admin answers each request once, within ADMIN_TIMEOUT_S of virtual time: /stats is the sum of
    one message of each worker, none older than what the parent had when asked, each counted once;
    a 503 names a worker that was asked and did not answer in time;
  * nothing raises into the loop.
"""

import asyncio
import contextlib
import json
import signal
from dataclasses import dataclass, field

from proxy import workers as workers_module
from proxy.build import build
from proxy.config import schema

from fuzz.oracles import InvariantViolation
from fuzz.session import Reader
from fuzz.targets.runtime_kernel import Kernel, Peer, VirtualLoop
from fuzz.targets.runtime import quiet_logs
from fuzz.targets.runtime_parent import status_lines_to

MAX_WORKERS = 4
MAX_ACTIONS = 96
MAX_TURNS = 5_000
ADMIN = ("127.0.0.1", 9901)
STEP_S = 0.25  # time passes in steps of this, the admin's clients read after each
TIME_STEPS_S = (0.0, 0.25, 0.5, 1.0, 1.75, 2.0, 2.5, 6.0)
ADMIN_PATHS = (
    "/stats",
    "/stats?format=json",
    "/ready",
    "/clusters",
    "/config_dump",
    "/",
    "/nowhere",
    "http://[::1/",
    "//x/stats",
)
PARENT_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP, signal.SIGCHLD)
# How a worker ends: (exit status as waitpid gives it, leaves half a line on its channel)
EXITS = ((0, False), (1 << 8, False), (signal.SIGKILL, False), (signal.SIGSEGV, False), (signal.SIGKILL, True))
OPS = ("ready", "answer", "drop", "finish", "exit", "sigchld", "signal", "advance", "admin", "answer_all", "garble")
# Bytes a channel holds each way: small ones cut messages and requests into pieces (flow control).
CHANNEL_CAPACITIES = (1 << 20, 40, 300, 4096)
LISTENERS = ("tcp", "web")
PID_BASE = 4000


def _fail(name: str, detail: str, judged: str = "proxy.workers._Supervisor") -> None:
    raise InvariantViolation(name, detail, judged=judged)


# -- the configuration ---------------------------------------------------------------------------


def _bootstrap():
    boot = schema.Bootstrap()
    boot.admin.address.host, boot.admin.address.port = ADMIN
    for i, name in enumerate(LISTENERS):
        listener = boot.listeners.add(name=name)
        listener.address.host, listener.address.port = "127.0.0.1", 10000 + i
        listener.filter_chains.add().filters.add().tcp_proxy.cluster = "c0"
    boot.clusters.add(name="c0").endpoints.add(host="127.0.0.1", port=9000)
    return boot


_BUILT = None


def built():
    global _BUILT
    if _BUILT is None:
        _BUILT = build(_bootstrap())
    return _BUILT


# -- the simulated processes ---------------------------------------------------------------------


def message(worker: "SimWorker", k: int, request_id) -> dict:
    """Worker `worker`'s k-th message: the numbers say which message each sum took, and the squares
    which ones were counted twice."""
    return {
        "id": request_id,
        "started": True,
        "draining": worker.state in ("draining", "stopped"),
        "counters": {
            f"fuzz.worker_{worker.index}.message": k,
            "fuzz.messages": k * k + 7,
            **{f"listener.{name}.downstream_cx_total": k for name in LISTENERS},
        },
        "gauges": {"fuzz.gauge": k, **{f"listener.{name}.downstream_cx_active": k % 3 for name in LISTENERS}},
        "buffered_bytes": k,
    }


@dataclass
class Request:
    """A snapshot request the worker read from its channel."""

    id: int
    at: float
    answered_at: float | None = None


@dataclass
class SimWorker:
    index: int
    pid: int
    peer: Peer
    prompt: bool  # answers every request as it reads it
    state: str = "starting"  # serving, draining, stopped (hung up, not exited), exited
    held: list = field(default_factory=list)  # signals blocked until ready
    sent: list = field(default_factory=list)  # (time, message number) of each message sent
    requests: list = field(default_factory=list)
    pending: list = field(default_factory=list)  # requests not answered nor dropped
    told_to_close: bool = False
    inbox: bytearray = field(default_factory=bytearray)
    status: int | None = None  # waitpid's status once exited
    reaped: bool = False
    hung_up_at: float | None = None  # when it closed its channel
    signals: list = field(default_factory=list)  # (signal, state) as the parent sent them

    @property
    def name(self) -> str:
        return f"worker {self.index} (pid {self.pid})"

    def latest(self, at: float) -> int:
        """The number of the last message sent by time `at` (0: none)."""
        return max((k for t, k in self.sent if t <= at), default=0)

    def send(self, now: float, request_id=None) -> None:
        k = len(self.sent) + 1
        self.sent.append((now, k))
        self.peer.send(json.dumps(message(self, k, request_id)).encode() + b"\n")

    def ready(self, now: float) -> None:
        if self.state != "starting":
            return
        self.state = "serving"
        self.send(now)
        held, self.held = self.held, []
        for sig in held:
            self.take_signal(sig)

    def take_signal(self, sig: int) -> None:
        if self.state == "starting":
            self.held.append(sig)
        elif self.state == "serving" and sig == signal.SIGTERM:
            self.state = "draining"
        # draining: SIGTERM again is the same stop; stopped: everything is blocked (run_process)

    def pump(self, now: float) -> None:
        """Read what the parent wrote: snapshot requests and `close`."""
        if self.state == "exited":
            return
        self.inbox += self.peer.read(None)
        while b"\n" in self.inbox:
            line, _, rest = bytes(self.inbox).partition(b"\n")
            self.inbox = bytearray(rest)
            if line == b"close":
                self.told_to_close = True
                continue
            request = Request(int(line), now)
            self.requests.append(request)
            self.pending.append(request)
        if self.prompt:
            while self.pending:
                self.answer(now)

    def answer(self, now: float) -> None:
        if self.pending and self.state in ("serving", "draining"):
            request = self.pending.pop(0)
            request.answered_at = now
            self.send(now, request.id)

    def drop(self) -> None:
        if self.pending:
            self.pending.pop(0)

    def finish(self, now: float) -> None:
        """The drain ended: the final counts, then the channel is closed (WorkerSide.stopped)."""
        if self.state in ("serving", "draining"):
            self.send(now)
            self.hang_up(now)
            self.state = "stopped"

    def hang_up(self, now: float) -> None:
        if self.hung_up_at is None:
            self.peer.close()
            self.hung_up_at = now

    def exit(self, now: float, status: int, torn: bool) -> None:
        if self.state == "exited":
            return
        if torn and self.hung_up_at is None:
            self.peer.send(b'{"id": null, "started": tr')  # killed in the middle of a message
        self.hang_up(now)
        self.state = "exited"
        self.status = status


class SimProcesses:
    """kill and waitpid over the simulated workers (proxy.workers._Processes)."""

    def __init__(self, world: "World") -> None:
        self.world = world

    def kill(self, pid: int, signum: int) -> None:
        w = self.world.by_pid[pid]
        w.signals.append((signum, w.state, w.reaped, w.index in self.world.settled_at))
        if w.reaped:
            raise ProcessLookupError(pid)  # or, worse, another process that took the pid
        if w.state != "exited":
            w.take_signal(signum)

    def waitpid(self, pid: int) -> tuple[int, int]:
        w = self.world.by_pid[pid]
        if w.reaped:
            raise ChildProcessError(pid)
        if w.status is None:
            return 0, 0
        w.reaped = True
        return pid, w.status

    def unblock_signals(self) -> None:
        pass


# -- the admin's clients ---------------------------------------------------------------------------


@dataclass
class AdminRequest:
    path: str
    peer: Peer | None
    at: float
    workers_then: list  # (latest message, hung up) of each worker when it was sent
    answer: bytes = b""
    answered_at: float | None = None
    # By the answer (virtual time stands still within a step, so counts, not times): the stop signals
    # (SIGTERM, SIGINT) the parent had been sent, and (messages sent, hung up) of each worker.
    stops_by_answer: int = 0
    workers_by_answer: list = field(default_factory=list)

    def poll(self, now: float, world: "World") -> None:
        if self.peer is None or self.answered_at is not None:
            return
        self.answer += self.peer.read(None)
        if self.peer.saw_end or self.peer.saw_reset:
            self.answered_at = now
            self.stops_by_answer = world.stop_signals
            self.workers_by_answer = [(len(w.sent), w.hung_up_at is not None) for w in world.sims]


# -- one run ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    op: str
    operand: int

    def describe(self) -> str:
        return f"{self.op} {self.operand}"


def decode_input(data: bytes) -> tuple[int, int, list[Action]]:
    reader = Reader(data)
    head = reader.int(1, 256)
    count = head % MAX_WORKERS + 1
    prompt = head // MAX_WORKERS
    actions: list[Action] = []
    while reader.remaining() > 0 and len(actions) < MAX_ACTIONS:
        op = OPS[reader.int(1, len(OPS))]
        actions.append(Action(op, reader.int(1, 256)))
    return count, prompt, actions


def encode_input(count: int, prompt: int, actions) -> bytes:
    out = bytearray([(count - 1) + MAX_WORKERS * prompt])
    for op, operand in actions:
        out += bytes([OPS.index(op), operand])
    return bytes(out)


class World:
    def __init__(self, count: int, prompt: int) -> None:
        self.kernel = Kernel(CHANNEL_CAPACITIES[prompt >> MAX_WORKERS & 3])
        self.loop = VirtualLoop(self.kernel)
        self.sims: list[SimWorker] = []
        handles = []
        for i in range(count):
            sock, peer = self.kernel.channel(f"worker {i}")
            pid = PID_BASE + i
            self.sims.append(SimWorker(i, pid, peer, bool(prompt >> i & 1)))
            handles.append(workers_module._Worker(i, pid, sock))  # type: ignore[arg-type] # the kernel stands in
        self.by_pid = {w.pid: w for w in self.sims}
        self.supervisor = workers_module._Supervisor(built(), handles, SimProcesses(self))
        self.admin_sock = self.kernel.bind(ADMIN)
        self.admin_sock.listen()
        self.admins: list[AdminRequest] = []
        self.chld_owed = False
        self.stop_signals = 0
        self.task: asyncio.Task | None = None
        self.said: list[str] = []
        self.settled_at: dict[int, float] = {}  # worker: when the parent had read its channel's end

    @property
    def now(self) -> float:
        return self.loop.us / 1e6

    async def settle(self) -> None:
        for _ in range(MAX_TURNS):
            for w in self.sims:
                w.pump(self.now)
            for a in self.admins:
                a.poll(self.now, self)
            await asyncio.sleep(0)
            unread = any(w.peer.unread for w in self.sims if w.state != "exited") or any(
                a.peer.unread for a in self.admins if a.peer is not None and a.answered_at is None
            )
            if self.loop.quiet() and not unread:
                return
        _fail("supervisor_busy_loop", f"still busy after {MAX_TURNS} loop turns")

    async def advance(self, seconds: float) -> None:
        end = self.loop.us + round(seconds * 1e6)
        while self.loop.us < end:
            await self.loop.sleep_until(min(end, self.loop.us + round(STEP_S * 1e6)))
            await self.settle()
            self.check_admin_in_time()

    def signal_parent(self, sig: int) -> None:
        if sig in (signal.SIGTERM, signal.SIGINT):
            self.stop_signals += 1
        self.loop.deliver(sig)

    def reaped_owed(self) -> None:
        """SIGCHLD for exits the parent was not yet told of (the kernel sends one, maybe merged)."""
        if self.chld_owed:
            self.chld_owed = False
            self.loop.deliver(signal.SIGCHLD)

    async def apply(self, a: Action) -> None:
        sims = self.sims
        w = sims[a.operand % len(sims)]
        now = self.now
        if a.op == "ready":
            w.ready(now)
        elif a.op == "answer":
            w.answer(now)
        elif a.op == "answer_all":
            for _ in range(len(w.pending)):
                w.answer(now)
        elif a.op == "drop":
            w.drop()
        elif a.op == "garble" and w.state in ("serving", "draining"):
            w.peer.send(b"not a message\n")  # a whole line that is none: skipped, never an answer
        elif a.op == "finish":
            w.finish(now)
        elif a.op == "exit":
            status, torn = EXITS[a.operand % 128 // MAX_WORKERS % len(EXITS)]
            if w.state != "exited":
                w.exit(now, status, torn)
                self.chld_owed = True
                if a.operand < 128:  # else SIGCHLD comes later (merged with the next one)
                    self.reaped_owed()
        elif a.op == "sigchld":
            self.chld_owed = False
            self.loop.deliver(signal.SIGCHLD)
        elif a.op == "signal":
            self.signal_parent(PARENT_SIGNALS[a.operand % len(PARENT_SIGNALS)])
        elif a.op == "advance":
            await self.advance(TIME_STEPS_S[a.operand % len(TIME_STEPS_S)])
        elif a.op == "admin":
            self.admin(ADMIN_PATHS[a.operand % len(ADMIN_PATHS)])

    def admin(self, path: str) -> None:
        if len(self.admins) >= 16:
            return
        peer = self.kernel.dial(ADMIN, ("127.0.0.1", 60000 + len(self.admins)))
        if peer is not None:
            peer.send(f"GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n".encode())
        workers_then = [(w.latest(self.now), w.hung_up_at is not None) for w in self.sims]
        self.admins.append(AdminRequest(path, peer, self.now, workers_then))

    # -- oracles -------------------------------------------------------------------------------

    def check_signals(self) -> None:
        for w in self.sims:
            for sig, state, reaped, hung_up_seen in w.signals:
                name = signal.Signals(sig).name
                if reaped:
                    _fail(
                        "worker_signalled_after_reaped",
                        f"{name} to {w.name} after it was reaped: its pid may be reused",
                    )
                if hung_up_seen:
                    _fail(
                        "worker_signalled_after_it_stopped",
                        f"{name} to {w.name} ({state}) after the parent read its channel's end",
                    )

    def check_exit_stops_the_rest(self) -> None:
        """Once the parent has reaped a worker, every other worker still running was sent SIGTERM: a
        worker that fails or stops on its own stops the whole proxy (README), which never runs on
        with fewer workers (a supervisor such as systemd then sees the exit and restarts it)."""
        gone = [w for w in self.sims if w.reaped]
        if not gone:
            return
        for w in self.sims:
            running = w.state in ("starting", "serving", "draining") and w.hung_up_at is None
            if running and not any(sig == signal.SIGTERM for sig, *_ in w.signals):
                _fail(
                    "worker_exit_left_others_running",
                    f"{gone[0].name} exited (status {gone[0].status}) and was reaped; {w.name}, {w.state}, "
                    "was never sent SIGTERM",
                )

    def check_admin_in_time(self) -> None:
        for i, a in enumerate(self.admins):
            late = self.now > a.at + workers_module.ADMIN_TIMEOUT_S + 2 * STEP_S
            if a.peer is not None and a.answered_at is None and late and not (self.task and self.task.done()):
                _fail(
                    "admin_no_answer",
                    f"admin request {i} ({a.path}) at {a.at:.2f} s still unanswered at {self.now:.2f} s",
                    "proxy.workers._WorkersAdmin",
                )

    def note_hang_ups(self) -> None:
        """After a settle the parent has read every closed channel's end."""
        for w in self.sims:
            if w.hung_up_at is not None and w.index not in self.settled_at:
                self.settled_at[w.index] = self.now

    def check_answers(self) -> None:
        for i, a in enumerate(self.admins):
            if a.peer is None or a.answered_at is None:
                continue
            head, _, body = a.answer.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
            path = a.path.partition("?")[0]
            judged = "proxy.workers._WorkersAdmin"
            if status == 500:
                _fail("admin_internal_error", f"admin request {i} {a.path}: 500, the handler raised", judged)
            if status == 503 and path in ("/stats", "/clusters", "/ready") and b"did not answer" in body:
                self.check_no_answer(i, a, body)
                continue
            if path in ("/stats", "/clusters", "/config_dump", "/") and status != 200:
                _fail("admin_status", f"admin request {i} {a.path}: {status} {body[:200]!r}", judged)
            if path == "/ready" and status not in (200, 503):
                _fail("admin_status", f"admin request {i} /ready: {status}", judged)
            if path == "/ready":
                self.check_ready(i, a, status)
            if path == "/stats" and status == 200:
                self.check_sum(i, a, _stats(a.path, body))

    def check_ready(self, i: int, a: AdminRequest, status: int) -> None:
        """/ready is LIVE once every worker is (README; Envoy's /ready: LIVE once the server is
        initialized, 503 while it starts or drains): a 200 while some worker had not yet said it
        serves sends a readiness probe's traffic to a proxy still starting; a 503 while every worker
        had said so before the request, none stopped and the parent was never told to stop keeps a
        serving proxy out of its load balancer."""
        judged = "proxy.workers._summed"
        silent = [w.name for w, (sent, _) in zip(self.sims, a.workers_by_answer) if not sent]
        if status == 200 and silent:
            _fail(
                "admin_ready_before_every_worker",
                f"admin request {i} /ready at {a.at:.2f} s: 200 LIVE while {', '.join(silent)} had not said it serves",
                judged,
            )
        steady = a.stops_by_answer == 0 and all(
            sent_then and not hung_then and not hung
            for (sent_then, hung_then), (_, hung) in zip(a.workers_then, a.workers_by_answer)
        )
        if status == 503 and steady:
            _fail(
                "admin_not_ready_while_every_worker_serves",
                f"admin request {i} /ready at {a.at:.2f} s: 503 while every worker had said it serves and none stopped",
                judged,
            )

    def check_no_answer(self, i: int, a: AdminRequest, body: bytes) -> None:
        """A 503 names a worker that was running when asked and did not answer in time."""
        judged = "proxy.workers._WorkersAdmin"
        named = [w for w in self.sims if f"{w.name} did not answer".encode() in body]
        if not named:
            _fail("admin_503_names_nobody", f"admin request {i}: {body[:200]!r}", judged)
        w = named[0]
        answered_at = a.answered_at if a.answered_at is not None else self.now
        deadline = a.at + workers_module.ADMIN_TIMEOUT_S - STEP_S
        if w.hung_up_at is not None and w.hung_up_at < deadline:
            _fail(
                "admin_503_for_a_gone_worker",
                f"admin request {i} at {a.at:.2f} s: 503 names {w.name}, whose channel ended at {w.hung_up_at:.2f} s:"
                " its last message stands for it",
                judged,
            )
        if answered_at < deadline:
            _fail("admin_503_too_soon", f"admin request {i} at {a.at:.2f} s: 503 at {answered_at:.2f} s", judged)
        asked = [r for r in w.requests if a.at <= r.at <= answered_at]
        if asked and all(r.answered_at is not None and r.answered_at < deadline for r in asked):
            _fail("admin_503_but_answered", f"admin request {i}: 503 names {w.name}, which answered in time", judged)

    def check_sum(self, i: int, a: AdminRequest, values: dict) -> None:
        """/stats sums one message of each worker, once: a fresh one from a worker that ran until the
        answer and had said it was ready, else (it hung up meanwhile) its last."""
        ks = [values.get(f"fuzz.worker_{w.index}.message", 0) for w in self.sims]
        expected = {
            "fuzz.messages": sum(k * k + 7 for k in ks if k),
            "fuzz.gauge": sum(ks),
            "server.buffered_bytes": sum(ks),
            "server.concurrency": len(self.sims),
        }
        for name in LISTENERS:
            expected[f"listener.{name}.downstream_cx_total"] = sum(ks)
            expected[f"listener.{name}.downstream_cx_active"] = sum(k % 3 for k in ks)
            for w, k in zip(self.sims, ks):
                expected[f"listener.{name}.worker_{w.index}.downstream_cx_total"] = k
                expected[f"listener.{name}.worker_{w.index}.downstream_cx_active"] = k % 3
        for name, want in expected.items():
            if values.get(name, 0) != want:
                _fail(
                    "admin_stats_not_the_sum",
                    f"admin request {i}: {name} = {values.get(name, 0)}, the workers' messages {ks} sum to {want}",
                    "proxy.workers._summed",
                )
        answered_at = a.answered_at if a.answered_at is not None else self.now
        for w, k in zip(self.sims, ks):
            floor, top = a.workers_then[w.index][0], w.latest(answered_at)
            ran = w.hung_up_at is None or w.hung_up_at > answered_at
            lowest = floor + 1 if ran and floor else floor
            if not lowest <= k <= top or (k and k not in [n for _, n in w.sent]):
                _fail(
                    "admin_stats_stale_or_foreign",
                    f"admin request {i}: /stats took message {k} of {w.name}; it had sent {floor} when asked,"
                    f" {top} by the answer{', running all along' if ran else ''}",
                    "proxy.workers._Supervisor",
                )

    def check_end(self, rc) -> None:
        running = [w.name for w in self.sims if w.state != "exited"]
        if running:
            _fail("worker_left_running", f"the parent returned {rc} while {', '.join(running)} still run")
        failed = [w for w in self.sims if w.status != 0]
        if (rc == 0) != (not failed):
            how = ", ".join(f"{w.name} status {w.status}" for w in failed) or "every worker exited 0"
            _fail("supervisor_exit_status", f"the parent exits {rc}; {how}")
        # The status lines a script waiting on the proxy reads: ready once, and how it ended.
        if self.said.count("proxy: ready") > 1:
            _fail("supervisor_ready_twice", f"'proxy: ready' said {self.said.count('proxy: ready')} times")
        last = "proxy: stopped" if rc == 0 else "proxy: stopped after a worker failure"
        if not self.said or self.said[-1] != last:
            _fail("supervisor_last_line", f"the parent exits {rc}, its last line is {self.said[-1:]}")


def _stats(target: str, body: bytes) -> dict:
    if "format=json" in target:
        return {item["name"]: item["value"] for item in json.loads(body)["stats"]}
    out = {}
    for line in body.decode().splitlines():
        name, _, value = line.rpartition(": ")
        out[name] = int(value)
    return out


async def _run_world(world: World, actions) -> None:
    world.settled_at = {}
    task = world.task = world.loop.create_task(world.supervisor.run(world.admin_sock))
    await world.settle()
    for a in actions:
        if task.done():
            break
        reopens = [_count(w, signal.SIGUSR1) for w in world.sims]
        await world.apply(a)
        await world.settle()
        world.note_hang_ups()
        world.check_signals()
        world.check_exit_stops_the_rest()
        world.check_admin_in_time()
        if world.stop_signals >= 2:
            _check_drains_ended(world)
        if a.op == "signal" and PARENT_SIGNALS[a.operand % len(PARENT_SIGNALS)] == signal.SIGUSR1:
            _check_reopen_forwarded(world, reopens)
    await _finish(world)


def _count(w: SimWorker, sig: int) -> int:
    return sum(1 for s in w.signals if s[0] == sig)


def _check_reopen_forwarded(world: World, before: list) -> None:
    for w, n in zip(world.sims, before):
        if w.state in ("serving", "draining") and w.hung_up_at is None and _count(w, signal.SIGUSR1) == n:
            _fail("reopen_not_forwarded", f"SIGUSR1 reached the parent; {w.name}, serving, was not given it")


def _check_drains_ended(world: World) -> None:
    for w in world.sims:
        if w.state == "draining" and not w.told_to_close and w.hung_up_at is None:
            _fail(
                "second_signal_did_not_end_drain",
                f"a second stop signal reached the parent; {w.name} was not told to end its drain",
            )


async def _finish(world: World) -> None:
    """What the rest of the world owes: workers get ready, a user stops the proxy, drains end, workers
    exit and the parent hears of it; then the parent must have returned."""
    task = world.task
    assert task is not None, "started by _run_world"
    now = world.now
    for w in world.sims:
        w.ready(now)
    await world.settle()
    if world.stop_signals == 0 and not task.done():
        world.signal_parent(signal.SIGTERM)
    world.reaped_owed()
    for _ in range(4 * MAX_WORKERS):
        await world.settle()
        world.note_hang_ups()
        world.check_signals()
        for w in world.sims:
            if w.state in ("draining", "stopped"):
                w.finish(world.now)
                w.exit(world.now, 0, False)
                world.chld_owed = True
        world.reaped_owed()
        if task.done():
            break
        if any(a.answered_at is None and a.peer is not None for a in world.admins):
            await world.advance(STEP_S)
    await world.settle()
    for a in world.admins:
        a.poll(world.now, world)
    if not task.done():
        if any(w.state != "exited" for w in world.sims):
            serving = [w.name for w in world.sims if w.state != "exited"]
            _fail(
                "worker_left_running",
                f"the parent was stopped (or a worker failed) and {', '.join(serving)} never got SIGTERM",
            )
        _fail("supervisor_hang", "every worker exited and the parent heard of it, and it has not returned")
    world.check_end(task.result())
    world.check_answers()


def run(data: bytes) -> World:
    count, prompt, actions = decode_input(data)
    world = World(count, prompt)
    loop = world.loop
    errors: list = []
    loop.set_exception_handler(lambda loop, context: errors.append(context))
    try:
        with quiet_logs(), status_lines_to(world.said.append):
            loop.run_until_complete(_run_world(world, actions))
    finally:
        _shut(loop)
    if errors:
        context = errors[0]
        _fail("supervisor_unhandled_error", f"{context.get('message')}: {context.get('exception')!r}")
    return world


def _shut(loop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.close()


def describe(data: bytes) -> str:
    count, prompt, actions = decode_input(data)
    capacity = CHANNEL_CAPACITIES[prompt >> MAX_WORKERS & 3]
    head = (
        f"config {count} workers, prompt {[bool(prompt >> i & 1) for i in range(count)]}, channels of {capacity} bytes"
    )
    return "\n".join([head] + [f"{i:3}  {a.describe()}" for i, a in enumerate(actions)])
