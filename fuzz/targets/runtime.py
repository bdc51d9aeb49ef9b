"""The asyncio runtime (proxy/server.py, proxy/_server_socket.py, proxy/admin.py) over a simulated
kernel (fuzz/targets/runtime_kernel.py): the real Server, transports and admin, asyncio's own loop
and socket transports, deterministic and in virtual time.

Input layout:
    byte 0     the configuration: RUNTIME_CONFIGS first, then the session pool (each with an admin)
    byte 1     the kernel's capacity per direction of a connection (CAPACITIES)
    rest       actions, one op byte and its operands each (encode / decode below)

Clients connect to a listener, send (a payload repeated), send HTTP requests from a template, read,
half close, reset; upstream connects are accepted or refused, and the upstream servers send, answer
HTTP, read, half close, reset; time passes; admin clients send requests (pipelined as they come)
and read; the server stops (drains, then closes what is left).

Oracles, from what a user of the runtime relies on:
  * transparency (differential): the same actions on the in-memory network (proxy/network/sim.py,
    the reference transport every other harness uses) give every client and upstream the same
    bytes and the same end: the runtime delivers at least what the reference delivers, never other
    bytes, and ends a connection exactly when the reference does;
  * memory held: a transport never holds more than one read of input its connection is not taking
    (the socket is paused) and one chunk of output the kernel has not taken (asyncio's buffer); a
    connection's buffers stay within the configured limits (fuzz/targets/runtime_buffers.py);
  * no stall: with every peer reading, no transport keeps output, input or a readable socket with
    nothing to move it;
  * no leak: a closed connection's socket is closed, and it leaves the server's registry (the
    gauges, the drain's wait); after a stop nothing is open; a socket kept for a peer that takes
    nothing outlives its connection no longer than Envoy's delayed close allows
    (fuzz/targets/runtime_flush_bound.py);
  * a drain ends with its clients: a stop does not wait out the drain timeout once every client
    connection has closed (fuzz/targets/runtime_drain.py);
  * a listener whose accepts failed (out of descriptors, `accept_fail`) accepts again once the
    resources are back: no connection is left in an open listener's backlog (the differential is
    not judged for such inputs: the runtime takes connections late, the memory network at once);
  * the admin (fuzz/targets/runtime_admin.py).
"""

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

from proxy import server as server_module
from proxy._server_socket import READ_SIZE, WRITE_CHUNK, SocketTransport
from proxy.admin import STREAM_IDLE_TIMEOUT_S, AdminHandler, AdminProtocol
from proxy.build import build, instantiate
from proxy.config import schema
from proxy.network.connection import State

from fuzz import test_pki
from fuzz.oracles import InvariantViolation
from fuzz.session import TIME_STEPS_MS, Reader
from fuzz.targets import runtime_admin, runtime_buffers
from fuzz.targets.runtime_drain import DrainWatch
from fuzz.targets.runtime_flush_bound import HeldSockets
from fuzz.targets.runtime_kernel import Kernel, VirtualLoop
from fuzz.targets.runtime_parent import ParentOfOne, status_lines_to
from fuzz.targets.runtime_reference import ReferenceWorld

# The runtime logs what it survives (a failed connect, a drain that timed out) on every run; what
# matters here is raised as a finding. Quiet only while a run lasts: a test importing this module
# must not silence the proxy's logs for the tests after it.
QUIET_LOGGERS = ("proxy", "asyncio")


@contextlib.contextmanager
def quiet_logs():
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


CAPACITIES = (65536, 512, 4096, 200_000)
READS = (None, 1, 100, 1024, 16384, 65536)  # bytes a read takes; None: all there is
MAX_ACTIONS = 128
MAX_PAYLOAD = 2048
MAX_REPEAT = 128
MAX_CONNECTIONS = 8
MAX_TURNS = 50_000  # loop turns one action may take to settle
BUFFER_LIMIT = 1024
ADMIN = ("127.0.0.1", 9901)

OPS = (
    "connect",
    "send",
    "send_http",
    "read",
    "close",
    "reset",
    "upstream_accept",
    "upstream_refuse",
    "upstream_send",
    "upstream_http",
    "upstream_read",
    "upstream_close",
    "upstream_reset",
    "advance",
    "admin",
    "admin_read",
    "admin_close",
    "stop",
    # Appended: raw bytes on an admin connection (a payload repeated, as send).
    "admin_send",
    # Appended: a client connects and resets before the proxy takes it from the accept queue.
    "connect_reset",
    # Appended: the process runs out of descriptors for the next 1-8 accepts (runtime_kernel.py).
    "accept_fail",
)
_SENDS = ("send", "upstream_send", "admin_send")
_TEMPLATES = ("send_http", "upstream_http")
_READS = ("read", "upstream_read", "admin_read")

REQUESTS: tuple = (
    b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 10\r\n\r\n0123456789",
    b"POST /c HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET /a HTTP/1.1\r\nHost: example.com\r\n\r\nGET /b HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
    b"PUT /x HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    b"BLAH\r\n\r\n",
)


def _h2_request(body: bytes = b"") -> bytes:
    """An HTTP/2 client's first flight: preface, SETTINGS, one request (h2 writes it, the same bytes
    every time)."""
    import h2.config
    import h2.connection

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()
    method = b"POST" if body else b"GET"
    headers = [(b":method", method), (b":path", b"/h2"), (b":scheme", b"http"), (b":authority", b"example.com")]
    conn.send_headers(1, headers, end_stream=not body)
    if body:
        conn.send_data(1, body, end_stream=True)
    return conn.data_to_send()


REQUESTS += (_h2_request(), _h2_request(b"q" * 3000))
RESPONSES = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\nuntil the close",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope",
    b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n" + b"z" * 20000,
    b"garbage\r\n\r\n",
)


@dataclass(frozen=True)
class Action:
    op: str
    target: int = 0
    value: int = 0  # repeat count, template, read size index, time step index, admin request
    payload: bytes = b""
    end: bool = False

    def describe(self) -> str:
        extra = f" {self.payload[:40]!r}{'...' if len(self.payload) > 40 else ''}" if self.payload else ""
        return f"{self.op}[{self.target}] value={self.value}{' end' if self.end else ''}{extra}"


def decode_actions(reader: Reader) -> list[Action]:
    actions: list[Action] = []
    while len(actions) < MAX_ACTIONS and reader.remaining() > 0:
        op = OPS[reader.int(1, len(OPS))]
        target = reader.int(1, MAX_CONNECTIONS)
        if op in _SENDS:
            repeat = reader.int(1, MAX_REPEAT) + 1
            payload = reader.bytes(reader.int(2, MAX_PAYLOAD + 1))
            actions.append(Action(op, target, repeat, payload, bool(reader.int(1, 2))))
        elif op in _TEMPLATES or op == "admin":
            actions.append(Action(op, target, reader.int(1, 256), end=bool(reader.int(1, 2))))
        elif op in _READS:
            actions.append(Action(op, target, reader.int(1, len(READS))))
        elif op in ("connect", "connect_reset", "advance"):
            actions.append(Action(op, target, reader.int(1, 256)))
        else:
            actions.append(Action(op, target))
    return actions


def encode_actions(actions, config: int = 0, capacity: int = 0) -> bytes:
    """The inverse of decode_input: seeds are written as readable scripts."""
    out = bytearray([config, capacity])
    for a in actions:
        out += bytes([OPS.index(a.op), a.target])
        if a.op in _SENDS:
            out += bytes([a.value - 1]) + len(a.payload).to_bytes(2, "big") + a.payload + bytes([a.end])
        elif a.op in _TEMPLATES or a.op == "admin":
            out += bytes([a.value, a.end])
        elif a.op in _READS or a.op in ("connect", "connect_reset", "advance"):
            out += bytes([a.value])
    return bytes(out)


# -- configurations --------------------------------------------------------------------------------


def _runtime_bootstrap():
    """A tcp_proxy listener, an HTTP listener and a TLS one whose key is inline (the secret the admin
    must never show), all with small buffers so backpressure is a few actions away, and an admin."""
    boot = schema.Bootstrap()
    boot.admin.address.host, boot.admin.address.port = ADMIN
    tcp = boot.listeners.add(name="tcp", per_connection_buffer_limit_bytes=BUFFER_LIMIT)
    tcp.address.host, tcp.address.port = "127.0.0.1", 10000
    tcp.filter_chains.add().filters.add().tcp_proxy.cluster = "c0"
    web = boot.listeners.add(name="web", per_connection_buffer_limit_bytes=BUFFER_LIMIT)
    web.address.host, web.address.port = "127.0.0.1", 10001
    hcm = web.filter_chains.add().filters.add().http_connection_manager
    hcm.stat_prefix = "web"
    vhost = hcm.route_config.virtual_hosts.add(name="any", domains=["*"])
    vhost.routes.add().match.prefix = "/"
    vhost.routes[0].route.cluster = "c1"
    secure = boot.listeners.add(name="secure", per_connection_buffer_limit_bytes=BUFFER_LIMIT)
    secure.address.host, secure.address.port = "127.0.0.1", 10443
    chain = secure.filter_chains.add()
    chain.filters.add().tcp_proxy.cluster = "c0"
    cert = chain.tls_context.common_tls_context.tls_certificates.add()
    pki = test_pki.ensure()
    cert.certificate_chain.inline_string = (pki / "server.pem").read_text()
    cert.private_key.inline_string = (pki / "server.key").read_text()
    for i, name in enumerate(("c0", "c1")):
        c = boot.clusters.add(name=name, per_connection_buffer_limit_bytes=BUFFER_LIMIT, connect_timeout_ms=1000)
        c.endpoints.add(host="127.0.0.1", port=9000 + i)
    return boot


def _pool_bootstraps():
    root = Path(__file__).resolve().parents[2]
    paths = sorted((root / "corpus" / "session_configs").glob("*.yaml")) + sorted((root / "examples").glob("*.yaml"))
    out = []
    for path in paths:
        boot = test_pki.load_config(path)
        if not boot.HasField("admin"):
            boot.admin.address.host, boot.admin.address.port = ADMIN
        out.append((path.name, boot))
    return out


class Configs:
    """Built once per process, shared by every input (immutable)."""

    def __init__(self) -> None:
        test_pki.ensure()
        entries = [("runtime", _runtime_bootstrap())] + _pool_bootstraps()
        self.names = [name for name, _ in entries]
        self.built = [build(boot) for _, boot in entries]
        self.secrets = [(test_pki.ensure() / "server.key").read_text().strip()]


_CONFIGS: Configs | None = None


def configs() -> Configs:
    global _CONFIGS
    if _CONFIGS is None:
        _CONFIGS = Configs()
    return _CONFIGS


def _instantiate(built, dispatcher, network):
    from proxy.http.access_log import CountingSink

    ctx = instantiate(built, dispatcher, network)
    ctx.open_access_log = lambda spec: CountingSink()  # never the terminal or a file
    return ctx


def _fail(name: str, detail: str, judged: str) -> None:
    raise InvariantViolation(name, detail, judged=judged)


# -- the two worlds --------------------------------------------------------------------------------


class RuntimeWorld:
    """The runtime under test: proxy.server.Server on a VirtualLoop over a Kernel."""

    def __init__(self, built, capacity: int, shared: bool = False) -> None:
        self.built = built
        self.shared = shared
        self.kernel = Kernel(capacity)
        self.loop = VirtualLoop(self.kernel)
        self.server = server_module.Server(built, instantiate=_instantiate)
        self.parent: ParentOfOne | None = None  # the admin's server when shared: the parent of --concurrency 1
        self.admin_address: tuple | None = None
        self.clients: list = []
        self.upstreams: list = []
        self.answers = 0  # upstream connects accepted or refused
        self.admins: list[runtime_admin.AdminClient] = []
        self.stopping: asyncio.Task | None = None
        self.drain = DrainWatch()
        self.turns = 0
        self.epoch = 0  # data-plane actions done so far (the admin's stats move only with them)
        self.largest_answer = 0  # bytes of the admin's largest answer, when last measured
        self.rest_ms = 0  # time run at rest after the actions (the admin's timeout): the reference runs it too
        self.held_sockets = HeldSockets()  # sockets of closed connections kept for peers that take nothing

    async def start(self) -> None:
        """Serve the listeners from sockets bound in the kernel (the binding itself is the one line
        of the runtime a harness replaces), accepted by server.SharedListener one per wake-up. The
        admin is served by the server, or (shared) by the parent of `--concurrency 1` beside it,
        from the server's snapshots (runtime_parent.py)."""
        sockets = {}
        for listener in self.built.listeners:
            sock = sockets[listener.name] = self.kernel.bind(listener.address)
            sock.listen()
        admin_sock = None
        if self.built.admin_address is not None:
            admin_sock = self.kernel.bind(self.built.admin_address)
            admin_sock.listen()
        await self.server.start(sockets=sockets, admin=not self.shared, admin_socket=admin_sock)
        self.admin_address = self.server.admin_address
        if self.shared and admin_sock is not None:
            self.parent = ParentOfOne(self, admin_sock)
            await self.parent.start()
            self.admin_address = self.built.admin_address

    def begin_stop(self) -> None:
        """What SIGTERM does to a serving process (server.run_process): the drain starts."""
        if self.stopping is None:
            self.stopping = asyncio.ensure_future(self.stop())
            self.drain.stop_began(self)

    async def stop(self, drain_timeout_s: float | None = None) -> None:
        await self.server.stop(drain_timeout_s)
        if self.parent is not None:
            await self.parent.stop()

    def connect(self, listener, local, remote) -> None:
        peer = self.kernel.dial(listener.address, remote)
        self.clients.append(peer if peer is not None else RefusedPeer())

    def pending(self) -> list:
        return self.kernel.pending_connects()

    def answer(self, k: int, accept: bool) -> None:
        pending = self.pending()
        if not pending:
            return
        self.answers += 1  # runtime_drain: the reference answers from its own pending list
        peer = self.kernel.answer(pending[k % len(pending)], accept)
        if peer is not None:
            self.upstreams.append(peer)

    async def settle(self, reading: bool = False) -> None:
        """Run the loop until it is at rest; `reading`: every peer reads all it is sent meanwhile."""
        for _ in range(MAX_TURNS):
            if reading:
                self.read_everything()
            await asyncio.sleep(0)
            self.turns += 1
            if self.loop.quiet() and not (reading and self.unread()):
                return
        _fail("runtime_busy_loop", f"still busy after {MAX_TURNS} loop turns", "proxy._server_socket.SocketTransport")

    def peers(self) -> list:
        return self.clients + self.upstreams + [c.peer for c in self.admins if c.peer is not None]

    def read_everything(self) -> None:
        for peer in self.peers():
            peer.read(None)

    def unread(self) -> bool:
        return any(getattr(p, "unread", False) for p in self.peers())

    async def advance(self, ms: int) -> None:
        await self.loop.sleep_until(self.loop.us + ms * 1000)
        await self.settle()


class RefusedPeer:
    """A client whose connect found no listener (the server stopped)."""

    did_reset = closed = saw_end = saw_reset = True
    received = b""

    def send(self, data, end=False) -> None:
        pass

    def read(self, n=None) -> bytes:
        return b""

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


# -- applying actions (the same to both worlds) ------------------------------------------------------


def _listener_for(world, choice: int):
    listeners = world.built.listeners
    listener = listeners[choice % len(listeners)]
    host, port = listener.address
    local = (host if host not in ("0.0.0.0", "::") else "127.0.0.1", port)
    remote = ("127.0.0.1", 50000 + len(world.clients))
    return listener, local, remote


def _apply(world, a: Action) -> None:
    """An action on either world's peers (admin and stop are the runtime's alone)."""
    op = a.op
    if op in ("connect", "connect_reset"):
        if len(world.clients) < MAX_CONNECTIONS and world.built.listeners:
            world.connect(*_listener_for(world, a.value))
            if op == "connect_reset":  # before the loop runs: the proxy has not accepted it yet
                world.clients[-1].reset()
        return
    if op in ("upstream_accept", "upstream_refuse"):
        world.answer(a.target, op == "upstream_accept")
        return
    if op == "accept_fail":  # the runtime's alone: the in-memory network has no descriptors
        world.kernel.exhaust_descriptors(a.target + 1)
        return
    side = world.upstreams if op.startswith("upstream_") else world.clients
    if not side:
        return
    peer = side[a.target % len(side)]
    verb = op.removeprefix("upstream_")
    if verb == "send":
        peer.send(a.payload * a.value, a.end)
    elif verb in ("send_http", "http"):
        table = REQUESTS if verb == "send_http" else RESPONSES
        peer.send(table[a.value % len(table)], a.end)
    elif verb == "read":
        peer.read(READS[a.value % len(READS)])
    elif verb == "close":
        peer.close()
    elif verb == "reset":
        peer.reset()


def _final_reads(world) -> None:
    for peer in world.clients + world.upstreams:
        peer.read(None)


# -- the runtime's own oracles ---------------------------------------------------------------------


def _data_transports(world: RuntimeWorld) -> list:
    """(kernel socket, asyncio transport, SocketTransport) of every data-plane socket still known."""
    out = []
    for sock in world.kernel.sockets:
        transport = world.loop.transport_of(sock.fd)
        protocol = transport.get_protocol() if transport is not None and transport._sock is not None else None
        if isinstance(protocol, SocketTransport):
            out.append((sock, transport, protocol))
    return out


def check_held(world: RuntimeWorld) -> None:
    """A transport holds at most one read of input its connection is not taking and one chunk of
    output the kernel has not taken."""
    for registry in (world.server._downstream, world.server._upstream):
        for t in list(registry):
            if len(t.inbound) > READ_SIZE:
                _fail(
                    "runtime_input_held",
                    f"{len(t.inbound)} bytes read from the socket wait for the connection (one read is {READ_SIZE}): reading was not paused",
                    "proxy._server_socket.SocketTransport",
                )
            if t.transport_buffered_bytes() > WRITE_CHUNK:
                _fail(
                    "runtime_output_held",
                    f"asyncio holds {t.transport_buffered_bytes()} bytes of output (one chunk is {WRITE_CHUNK}): writing went on past the kernel's refusal",
                    "proxy._server_socket.SocketTransport",
                )
    runtime_buffers.check(world.server, world.built)


def check_core_errors(world: RuntimeWorld) -> None:
    """The transports catch what the core raises (closing that connection, counting it): a core
    bug the runtime hides is still a finding."""
    ctx = world.server.ctx
    if ctx is not None and ctx.stats.counter("server.unhandled_errors"):
        _fail("runtime_core_error", "the proxy core raised under a transport (see the log)", "proxy.server.Server")


def check_admin_held(world: RuntimeWorld) -> None:
    """A client that pipelines requests and reads nothing makes the admin hold about one buffer of
    answers (AdminProtocol: one request a turn, none while backed up): asyncio's high watermark
    (64 KiB) plus an answer or two."""
    for sock in world.kernel.sockets:
        transport = world.loop.transport_of(sock.fd)
        if transport is None or transport._sock is None or not isinstance(transport.get_protocol(), AdminProtocol):
            continue
        held = transport.get_write_buffer_size()
        if held <= 65536 + 2 * (world.largest_answer + 1024):
            continue
        # The answers grow with the stats: measured again only when the bound seems crossed.
        handler = AdminHandler(world.server)
        world.largest_answer = max(len(handler.respond("GET", t)[2]) for t in ("/stats", "/config_dump", "/clusters"))
        if held > 65536 + 2 * (world.largest_answer + 1024):
            _fail(
                "admin_answers_held",
                f"{held} bytes of answers held for a client that reads nothing (largest answer {world.largest_answer})",
                "proxy.admin.AdminProtocol",
            )


def check_no_leak(world: RuntimeWorld) -> None:
    """At rest: a closed connection's socket is closed and its transport left the registry."""
    for sock, transport, proto in _data_transports(world):
        conn = proto.conn
        if conn is not None and conn.state is State.CLOSED and not transport.get_write_buffer_size():
            _fail(
                "runtime_socket_leak",
                f"connection {conn.id} closed, its socket {sock.local}->{sock.remote} still open",
                "proxy._server_socket.SocketTransport",
            )
    for registry in (world.server._downstream, world.server._upstream):
        for t in list(registry):
            sock = t.transport.get_extra_info("socket") if t.transport is not None else None
            gone = t.lost or (t.conn is not None and t.conn.state is State.CLOSED and t.transport is None)
            if gone and (sock is None or sock.fileno() < 0):
                _fail(
                    "runtime_registry_leak",
                    f"a transport whose connection ended is still counted open ({len(registry)} in the registry)",
                    "proxy.server.Server",
                )
    waiting = [t for t in world.server._upstream if t.transport is None and t.conn.state is not State.CLOSED]
    pending = world.kernel.pending_connects()
    if len(pending) > len(waiting):
        _fail(
            "runtime_connect_leak",
            f"{len(pending)} connects pending, {len(waiting)} connections waiting for one",
            "proxy._server_socket.AsyncioNetwork",
        )


def check_stall(world: RuntimeWorld) -> None:
    """Every peer read everything and the loop is at rest: nothing may wait with nothing to move it."""
    for sock, transport, proto in _data_transports(world):
        conn = proto.conn
        if conn is None or conn.state is State.CLOSED or transport.is_closing():
            continue
        # Plaintext a TLS handshake still waits for is not the transport's to move.
        encodes = getattr(conn.transport_socket, "handshaken", True)
        if len(conn.write_buffer) and encodes and not proto._write_blocked and not conn.filter_manager.holds_writes():
            _fail(
                "runtime_stall_output",
                f"connection {conn.id} has {len(conn.write_buffer)} bytes to write, the kernel has room, nothing writes them",
                "proxy._server_socket.SocketTransport",
            )
        if proto.inbound and proto._can_read():
            _fail(
                "runtime_stall_input",
                f"connection {conn.id} reads, {len(proto.inbound)} received bytes are never given to it",
                "proxy._server_socket.SocketTransport",
            )
        if sock.rx is not None and sock.rx.data and proto._can_read() and not transport.is_reading():
            _fail(
                "runtime_stall_socket_paused",
                f"connection {conn.id} reads, its socket has input and stays paused",
                "proxy._server_socket.SocketTransport",
            )


ACCEPT_RESUME_BOUND_MS = 2000  # the runtime pauses an accept loop 1 s after a resource error, as asyncio


async def check_accepting_again(world: RuntimeWorld) -> None:
    """A listener that could not accept (out of descriptors or memory) accepts again once the
    resources are back: Envoy and asyncio pause their accept loop and retry. At rest the descriptors
    come back; within a couple of seconds no open listening socket may keep a connection in its
    backlog (a client whose handshake completed and whom nobody serves)."""
    world.kernel.restore_descriptors()
    await world.advance(ACCEPT_RESUME_BOUND_MS)
    await world.settle(reading=True)
    for address, sock in world.kernel.listeners.items():
        if sock.backlog and not sock.is_closed:
            _fail(
                "runtime_listener_stopped_accepting",
                f"{len(sock.backlog)} connections wait in the backlog of {address[0]}:{address[1]}, "
                f"{ACCEPT_RESUME_BOUND_MS} ms after its accepts failed ({world.kernel.accept_failures_made} times) "
                "and with descriptors to spare",
                "proxy.server.SharedListener",
            )


async def check_admin_idle_timeout(world: RuntimeWorld) -> None:
    """The admin is an HTTP connection manager with Envoy's defaults: a client that leaves a request
    unfinished and goes quiet (slowloris) is answered 408 and closed once the stream idle timeout
    passes, so it cannot hold an admin connection, and its socket, for good. At rest, time runs past
    that timeout (only when some open client left a request unfinished: the data plane's own timers
    then run too, after every other check)."""
    waiting = [
        c
        for c in world.admins
        if c.peer is not None
        and not (c.peer.saw_end or c.peer.saw_reset or c.peer.did_reset)
        and runtime_admin.leaves_a_request_unfinished(bytes(getattr(c.peer, "sent", b"")))
    ]
    if not waiting:
        return
    world.rest_ms = int(STREAM_IDLE_TIMEOUT_S * 1000) + 1000
    await world.advance(world.rest_ms)
    await world.settle(reading=True)
    for client in waiting:
        if not (client.peer.saw_end or client.peer.saw_reset):
            _fail(
                "admin_unfinished_request_held",
                f"a client left a request unfinished ({bytes(client.peer.sent)[-60:]!r}) and went quiet: "
                f"{STREAM_IDLE_TIMEOUT_S:.0f} s later the admin still holds its connection open",
                "proxy.admin.AdminProtocol",
            )


def check_stopped(world: RuntimeWorld) -> None:
    open_ = [s for s, _, _ in _data_transports(world) if not s.is_closed]
    if open_:
        _fail(
            "runtime_open_after_stop",
            f"{len(open_)} sockets open after Server.stop() returned: {[(s.local, s.remote) for s in open_][:3]}",
            "proxy.server.Server",
        )
    listening = [s for s in world.kernel.listeners.values() if not s.is_closed]
    if listening:
        _fail("runtime_listening_after_stop", f"{len(listening)} listeners still accept", "proxy.server.Server")


# -- the differential ------------------------------------------------------------------------------


def compare(ref: ReferenceWorld, rt: RuntimeWorld) -> None:
    """Same actions, same outcome: what each peer read, and whether its connection ended. Bytes in
    flight when a peer resets are lost (RFC 9293 3.5.2), and how many were in flight depends on
    where the kernel and each transport cut their reads: after a reset only the bytes both read
    are compared. The reference learns of a reset when its socket would (runtime_reference.py)."""
    any_reset = any(p.did_reset for p in ref.clients + ref.upstreams)
    for side, refs, rts in (("client", ref.clients, rt.clients), ("upstream", ref.upstreams, rt.upstreams)):
        if len(refs) != len(rts):
            _fail(
                "runtime_differs_from_sim",
                f"{len(rts)} {side} connections through the runtime, {len(refs)} in memory",
                "proxy._server_socket.AsyncioNetwork",
            )
        for i, (r, t) in enumerate(zip(refs, rts)):
            if isinstance(t, RefusedPeer):
                continue
            got, want = bytes(t.received), bytes(r.received)
            if r.encrypted:  # the same records, other random bytes: compared by length
                got, want = bytes(len(got)), bytes(len(want))
            if any_reset:
                n = min(len(got), len(want))
                got, want = got[:n], want[:n]
            if not got.startswith(want) or (got != want and r.clean_end):
                _fail(
                    "runtime_differs_from_sim",
                    f"{side} {i} read {len(got)} bytes through the runtime, {len(want)} in memory"
                    f" (first difference at {_first_difference(got, want)})",
                    "proxy._server_socket.SocketTransport",
                )
            if r.did_reset or t.did_reset:
                continue
            t_ended = t.saw_end or t.saw_reset
            if r.ended != t_ended:
                _fail(
                    "runtime_differs_from_sim",
                    f"{side} {i}: the connection {'ended' if t_ended else 'stayed open'} through the runtime,"
                    f" {'ended' if r.ended else 'stayed open'} in memory",
                    "proxy._server_socket.SocketTransport",
                )


def _first_difference(a: bytes, b: bytes) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


# -- running an input ------------------------------------------------------------------------------


def decode_input(data: bytes) -> tuple[int, int, bool, list[Action]]:
    """(configuration, kernel capacity, shared listening sockets?, actions)."""
    reader = Reader(data)
    pool = configs()
    index = reader.int(1, 256) % len(pool.built)
    mode = reader.int(1, 256)
    capacity = CAPACITIES[mode % len(CAPACITIES)]
    return index, capacity, bool(mode // len(CAPACITIES) % 2), decode_actions(reader)


async def _run_runtime(world: RuntimeWorld, actions) -> None:
    await world.start()
    for a in actions:
        if a.op in ("admin", "admin_send"):
            clients = world.admins
            if a.target >= len(clients) and len(clients) < MAX_CONNECTIONS:
                address = world.admin_address
                peer = world.kernel.dial(address, ("127.0.0.1", 60000 + len(clients))) if address else None
                clients.append(runtime_admin.AdminClient(peer))
            client = clients[a.target % len(clients)] if clients else None
            if client is not None and a.op == "admin":
                # Draining since the harness asked the server to stop, not since the proxy says so.
                client.send(a.value, world.stopping is not None, a.end, world.epoch)
            elif client is not None:
                client.send_raw(a.payload * a.value, a.end)
        elif a.op == "admin_read":
            if world.admins:
                client = world.admins[a.target % len(world.admins)]
                if client.peer is not None:
                    client.peer.read(READS[a.value % len(READS)])
        elif a.op == "admin_close":
            if world.admins:
                client = world.admins[a.target % len(world.admins)]
                if client.peer is not None:
                    client.peer.send(b"", True)
        elif a.op == "stop":
            world.epoch += 1
            if world.parent is not None:  # SIGTERM to the parent, which forwards it (again: ends the drain)
                if world.stopping is not None:
                    world.drain.signalled_again(world)
                world.loop.deliver(signal.SIGTERM)
            else:
                world.begin_stop()
        elif a.op == "advance":
            world.epoch += 1
            await world.advance(TIME_STEPS_MS[a.value % len(TIME_STEPS_MS)])
        else:
            world.epoch += 1
            _apply(world, a)
        await world.settle()
        world.drain.note(world)
        check_held(world)
        check_admin_held(world)
        check_core_errors(world)
        world.held_sockets.check(_data_transports(world), world.loop.us)
    await world.settle(reading=True)  # every peer reads everything until nothing moves
    if world.kernel.accept_failures_made and world.stopping is None:
        await check_accepting_again(world)
    world.drain.note(world)
    check_held(world)
    if world.stopping is None:
        check_stall(world)
        check_no_leak(world)
    # Answers to requests sent with no action between describe one state of the data plane only while
    # it waits for actions: after failed accepts the listeners take queued clients on their own timer.
    judge_values = (
        world.stopping is None
        and not world.kernel.accept_failures_made
        and not any(c.peer is None or c.peer.from_proxy.ever_full for c in world.admins)
    )
    # A client the admin has not accepted is owed nothing where failed accepts explain it: a stop may
    # close the listener during its pause (Linux resets the backlog). Without a stop the accept loop is
    # judged by runtime_listener_stopped_accepting; without failed accepts it is owed its answers.
    paused = world.kernel.accept_failures_made
    for client in world.admins:
        # Past the admin's stream idle timeout a client that did not read may be closed unanswered.
        finished = world.loop.us < STREAM_IDLE_TIMEOUT_S * 1e6 and not (
            paused and not getattr(client.peer, "accepted", True)
        )
        runtime_admin.check_answers(client, world.built, finished, judge_values, world.stopping is not None)
    if world.stopping is not None:
        await world.stopping
        await world.settle()
        check_stopped(world)
        world.drain.check(world)
    else:
        await check_admin_idle_timeout(world)
        await world.stop(drain_timeout_s=0)
        await world.settle()


def run_reference(built, capacity: int, actions, rest_ms: int = 0) -> ReferenceWorld:
    """The same actions in memory; `rest_ms`: time the runtime ran at rest after them (the data
    plane's timers fire in both)."""
    ref = ReferenceWorld(built, capacity, _instantiate)
    for a in actions:
        if a.op in ("admin", "admin_read", "admin_close", "stop", "admin_send", "accept_fail"):
            continue
        if a.op == "advance":
            ref.advance(TIME_STEPS_MS[a.value % len(TIME_STEPS_MS)])
        else:
            _apply(ref, a)
        ref.settle()
    _read_to_rest(ref)
    if rest_ms:
        ref.advance(rest_ms)
        _read_to_rest(ref)
    return ref


def _read_to_rest(ref: ReferenceWorld) -> None:
    for _ in range(MAX_TURNS):
        before = tuple(len(p.received) for p in ref.clients + ref.upstreams)
        _final_reads(ref)
        ref.settle()
        if tuple(len(p.received) for p in ref.clients + ref.upstreams) == before:
            break


def run(data: bytes) -> RuntimeWorld:
    with quiet_logs(), status_lines_to(lambda line: None):
        return _run(data)


def _run(data: bytes) -> RuntimeWorld:
    index, capacity, shared, actions = decode_input(data)
    built = configs().built[index]
    world = RuntimeWorld(built, capacity, shared)
    loop = world.loop
    errors: list = []
    loop.set_exception_handler(lambda loop, context: errors.append(context))
    try:
        loop.run_until_complete(_run_runtime(world, actions))
    finally:
        _shut(loop)
    if errors:
        context = errors[0]
        _fail(
            "runtime_unhandled_error",
            f"{context.get('message')}: {context.get('exception')!r}",
            "proxy.server.Server",
        )
    if world.kernel.accept_failures_made:
        # The runtime took some connections late (after its accept pause), the memory network at
        # once: their upstream connects pair with other answers. Judged by the runtime's own oracles.
        return world
    reference = run_reference(built, capacity, actions, world.rest_ms)
    if world.stopping is None:
        compare(reference, world)
    else:
        world.drain.check_connections_kept(reference, world)
    return world


def _shut(loop: VirtualLoop) -> None:
    """Cancel what is left (a finding may have stopped the run midway) and close the loop."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        try:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        except Exception:  # noqa: BLE001 - a loop left waiting on nothing: it is closed anyway
            pass
    loop.close()


def describe(data: bytes) -> str:
    index, capacity, shared, actions = decode_input(data)
    head = f"config {configs().names[index]}, kernel capacity {capacity}{', shared sockets' if shared else ''}"
    return "\n".join([head] + [f"{i:3}  {a.describe()}" for i, a in enumerate(actions)])
