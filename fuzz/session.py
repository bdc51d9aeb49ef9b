"""Stage 2: one data-plane session over a built configuration, entirely in memory.

A session is a fresh server instance (`proxy.build.instantiate`) on a simulated
dispatcher and network. It applies a bounded list of actions — downstream clients
connect, send, read slowly (a byte count, or down to a level named by the buffer's own
watermarks: read_to / upstream_read_to), half-close or reset; upstream connections complete
or fail and answer; virtual time advances — and checks the invariants of fuzz/oracles.py after
every action. Connection buffers are also checked against the watermark model on every change
of their length (CheckedWatermarkBuffer). A broken invariant raises InvariantViolation.

Inputs decode into actions front to back (decode_actions; encode_actions is its inverse,
so seeds are written as readable scripts), capped at MAX_ACTIONS actions and MAX_PAYLOAD
bytes per payload, so every run is bounded.
"""

import builtins
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from proxy.buffer import WatermarkBuffer
from proxy.http.codec import H2_PREFACE
from proxy.build import instantiate
from proxy.event import SimulatedDispatcher
from proxy.network import sim
from proxy.network.connection import Connection, State
from proxy.network.filters.tcp_proxy import TcpProxyFilter
from proxy.upstream.pool_conn import PoolConnection

from . import closing, delivery, filter_timers, held, liveness, oracles, settle, shared_buckets_paired, tls_session
from . import payloads
from .payloads import DOWNSTREAM_PAYLOADS, HOSTS, PATHS, UPSTREAM_PAYLOADS
from .peers import Peers
from .peers.upstream import cluster_of
from .models import breakers, hcm_stats, lb, ratelimit_scope, timeouts
from .models.head_deadline import check_head_deadlines
from .models.idle import check_idle_connections_close, check_request_heads_time_out
from .models.session_oracle import bootstrap_of
from .models.retry import UpstreamTimes
from .models.stats import check_upstream_requests_total
from .models.session_oracle import SessionModel, edge_sources, route_targets
from .models.session_oracle import _chain_of as chain_of
from .peers.h2_peer import large_transfer_settings, settings_from_byte, withholds_credit
from .tls_peer import TlsSocket, speaks_tls
from .upstream_end import check_no_write_after_upstream_end

MAX_ACTIONS = 256
MAX_CONNECTIONS = 16
MAX_PAYLOAD = 4096
# Small reads make watermarks and partial parses happen with small inputs.
READ_SIZES = (16 * 1024, 1, 7, 512)
TIME_STEPS_MS = (0, 1, 10, 100, 1_000, 5_000, 30_000, 120_000)
SOURCES = ("127.0.0.1", "10.1.2.3", "192.168.0.7", "::1", "172.16.5.4")
# Levels a peer can drain a connection's write buffer to, taken from that buffer's own
# watermarks at the moment of the read: flow-control boundaries are one action choice
# rather than a byte count the fuzzer has to guess (Envoy's fuzzers pick meaningful values
# the same way). Each is (name, level from (low, high)).
DRAIN_LEVELS = (
    ("low", lambda low, high: low),
    ("low-1", lambda low, high: low - 1),
    ("low+1", lambda low, high: low + 1),
    ("high", lambda low, high: high),
    ("high+1", lambda low, high: high + 1),
    ("high-1", lambda low, high: high - 1),
    ("1", lambda low, high: 1),
    ("0", lambda low, high: 0),
)


@dataclass(frozen=True)
class Action:
    op: str
    target: int = 0  # connection index (downstream or upstream, by op)
    value: int = 0  # bytes to read, ms to advance, source index, ...
    payload: bytes = b""
    end_stream: bool = False

    def describe(self) -> str:
        extra = f" {self.payload[:40]!r}{'...' if len(self.payload) > 40 else ''}" if self.payload else ""
        return f"{self.op}[{self.target}] value={self.value}{' end' if self.end_stream else ''}{extra}"


OPS = (
    "connect",
    "send",
    "send_http",
    "read",
    "close",
    "reset",
    "upstream_connect",
    "upstream_fail",
    "upstream_send",
    "upstream_http",
    "upstream_read",
    "upstream_close",
    "upstream_reset",
    "advance",
    # Appended, so that seeds written before keep their meaning: a peer reads just enough
    # for the connection's write buffer to be left at a level of DRAIN_LEVELS.
    "read_to",
    "upstream_read_to",
    # Appended: the HTTP/2 SETTINGS a client (settings[i]) or the upstreams (upstream_settings)
    # advertise, from one byte (fuzz.peers.h2_peer.settings_from_byte); the strict peers
    # enforce them (fuzz/peers).
    "settings",
    "upstream_settings",
    # Appended: a client that may speak TLS, offer ALPN and a certificate, send a PROXY header
    # first (one mode byte: fuzz/tls_session.py).
    "connect_tls",
    # Appended: the server drains (Envoy's drain manager, SIGTERM for python -m proxy): listeners
    # stop accepting, requests in flight finish, then connections close.
    "drain",
    # Appended: a pending upstream connect completes, and its peer never answers (a black-holed
    # backend: a TLS cluster's handshake never finishes), so the connect timeout has to end it.
    "upstream_connect_silent",
    # Appended: an HTTP/2 upstream shuts down gracefully, GOAWAY(NO_ERROR) naming the last stream it
    # received, and goes on answering those (a rolling restart of the backend).
    "upstream_goaway",
    # Appended: an HTTP/2 client (window[i]) or the upstreams (upstream_window) advertise a window
    # past h2's default, from one byte (fuzz.peers.h2_peer.large_transfer_settings), for streams and
    # the connection alike, and perhaps the largest HPACK table: a peer ready for a large transfer,
    # so that the proxy's own limits, not the peer's, must bound what it holds.
    "window",
    "upstream_window",
    # Appended: a client sends a templated request in the protocol its connection speaks (HTTP/2
    # where the connection manager's codec or the TLS ALPN says so, else HTTP/1.1), as a client
    # configured for the service does; send_http's templates ignore the codec, so most scenario
    # requests met the wrong one and never reached the router (python -m fuzz bench scenario-reach).
    "send_request",
    # Appended: the upstreams are up: the next 1-4 (value) connections the proxy opens are accepted
    # as soon as they are made, whenever that is (after a fault delay, a retry's), as a listening
    # backend's connect completes within a round trip. upstream_connect completes only a connect
    # already pending, so one that opened later (a delayed request) was lost to its connect timeout.
    "upstream_accept_next",
    # Appended: an upstream answers in the protocol the proxy speaks to it (h2_response on a
    # connection that got the HTTP/2 preface, else h1_response), as a server does; upstream_http's
    # templates ignore it, so an HTTP/1.1 answer on an HTTP/2 cluster's connection was a 503.
    "upstream_respond",
    # Appended: a client configured for the listener it connects to (value and target as connect's):
    # TLS with SNI, both ALPN protocols and the test CA's client certificate where the chain it
    # reaches terminates TLS, a PROXY v1 header first where the listener reads one. A plain connect
    # to a TLS chain or to a PROXY-reading listener never gets a request through.
    "connect_fitting",
)


class Reader:
    """Reads an input front to back; missing bytes read as zero, so every input decodes."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def int(self, nbytes: int, modulo: int) -> int:
        chunk = self.data[self.pos : self.pos + nbytes]
        self.pos += nbytes
        return int.from_bytes(chunk.ljust(nbytes, b"\0"), "big") % modulo

    def bytes(self, n: builtins.int) -> bytes:  # `int` here is the method above
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


# Each op's operand layout, shared by decode_actions and encode_actions so seeds written as
# readable scripts (fuzz/session_seeds.py) are exactly what the decoder reads back.
_PAYLOAD_OPS = ("send", "upstream_send")
_TEMPLATE_OPS = ("send_http", "upstream_http")
_READ_OPS = ("read", "upstream_read")
_DRAIN_OPS = ("read_to", "upstream_read_to")
_SETTINGS_OPS = ("settings", "upstream_settings", "window", "upstream_window")  # one value byte
_FITTING_OPS = ("send_request", "upstream_respond")  # a template seed, the template chosen by the connection
_COUNT_OPS = ("upstream_accept_next",)  # one value byte: how many, less one
ACCEPT_NEXT_MOST = 4
MAX_SEED = 64


def decode_actions(reader: Reader, max_actions: int = MAX_ACTIONS) -> list[Action]:
    """Turn the rest of an input into actions. Always starts with a connect."""
    actions = [Action("connect")]
    while len(actions) < max_actions and reader.remaining() > 0:
        op = OPS[reader.int(1, len(OPS))]
        target = reader.int(1, MAX_CONNECTIONS)
        if op in _PAYLOAD_OPS:
            payload = reader.bytes(reader.int(2, MAX_PAYLOAD + 1))
            actions.append(Action(op, target, payload=payload, end_stream=bool(reader.int(1, 2))))
        elif op in _TEMPLATE_OPS:
            table = DOWNSTREAM_PAYLOADS if op == "send_http" else UPSTREAM_PAYLOADS
            kind = reader.int(1, len(table))
            seed = reader.bytes(reader.int(1, MAX_SEED + 1))
            actions.append(Action(op, target, value=kind, payload=seed, end_stream=bool(reader.int(1, 2))))
        elif op in _FITTING_OPS:
            seed = reader.bytes(reader.int(1, MAX_SEED + 1))
            actions.append(Action(op, target, payload=seed, end_stream=bool(reader.int(1, 2))))
        elif op in _READ_OPS:
            actions.append(Action(op, target, value=reader.int(3, (1 << 17) + 1)))
        elif op in _DRAIN_OPS:
            actions.append(Action(op, target, value=reader.int(1, len(DRAIN_LEVELS))))
        elif op in _COUNT_OPS:
            actions.append(Action(op, target, value=reader.int(1, ACCEPT_NEXT_MOST)))
        elif op in _SETTINGS_OPS:
            actions.append(Action(op, target, value=reader.int(1, 256)))
        elif op in ("connect", "connect_fitting"):
            actions.append(Action(op, target, value=reader.int(1, 256)))
        elif op == "connect_tls":
            actions.append(Action(op, target, value=reader.int(1, 256), payload=bytes([reader.int(1, 256)])))
        elif op == "advance":
            actions.append(Action(op, value=TIME_STEPS_MS[reader.int(1, len(TIME_STEPS_MS))]))
        else:
            actions.append(Action(op, target))
    return actions


def encode_actions(actions, config: int = 0, read_size: int = 0) -> bytes:
    """The inverse of run_input's decoding: an input that replays `actions` (after the implicit
    first connect) on pool entry `config` with READ_SIZES[read_size]."""
    out = bytearray([config, read_size])
    for a in actions:
        out += bytes([OPS.index(a.op), a.target])
        if a.op in _PAYLOAD_OPS:
            out += len(a.payload).to_bytes(2, "big") + a.payload + bytes([a.end_stream])
        elif a.op in _TEMPLATE_OPS:
            out += bytes([a.value, len(a.payload)]) + a.payload + bytes([a.end_stream])
        elif a.op in _FITTING_OPS:
            out += bytes([len(a.payload)]) + a.payload + bytes([a.end_stream])
        elif a.op in _READ_OPS:
            out += a.value.to_bytes(3, "big")
        elif a.op in _DRAIN_OPS or a.op in _SETTINGS_OPS or a.op in _COUNT_OPS:
            out += bytes([a.value])
        elif a.op in ("connect", "connect_fitting"):
            out += bytes([a.value])
        elif a.op == "connect_tls":
            out += bytes([a.value]) + a.payload[:1].ljust(1, b"\0")
        elif a.op == "advance":
            out += bytes([TIME_STEPS_MS.index(a.value)])
    return bytes(out)


def connect_address(built, choice: int, variant: int, sources=SOURCES, extra_ports=()):
    """(listener, local address, source address, server name) of a connect action: `choice` picks
    the listener and the source, `variant` the server name and destination port among those the
    listener's chains match on. A harness may offer more `sources` (at most 32 are reachable) and
    `extra_ports` (ports its filters decide on, e.g. RBAC policies')."""
    listener = built.listeners[choice % len(built.listeners)]
    source = sources[(choice // 8) % len(sources)]
    matches = [chain.match for chain in listener.filter_chains]
    named = sorted({n.replace("*.", "www.") for m in matches for n in m.server_names})
    # Each name also in capitals: a server name is a DNS name, case-insensitive (RFC 6066 section 3,
    # RFC 4343), and the configuration's names are lower case, so a case-sensitive match shows only so.
    names = [""] + named + [n.upper() for n in named]
    ports = [listener.address[1] or 10000] + sorted(
        {m.destination_port for m in matches if m.destination_port} | set(extra_ports)
    )
    local = (listener.address[0], ports[(variant // len(names)) % len(ports)])
    return listener, local, source, names[variant % len(names)]


def fitting_tls_mode(built, choice: int, variant: int, sources=SOURCES) -> int | None:
    """The connect_tls mode byte (fuzz/tls_session.py) of a client configured for the listener a connect
    of `choice` and `variant` reaches, or None (clear text, no PROXY header): TLS with SNI, ALPN h2 and
    http/1.1 and the test CA's client certificate where the chain it reaches (else the listener's
    first) has a tls_context; a PROXY v1 header where the listener has a proxy_protocol filter."""
    listener, local, source, server_name = connect_address(built, choice, variant, sources)
    msg = bootstrap_of(built).listeners[built.listeners.index(listener)]
    chain = chain_of(msg, local, (source, 40000), server_name)
    if chain is None:
        chain = 0
    terminating = (
        msg.default_filter_chain if chain == "default" else msg.filter_chains[chain] if msg.filter_chains else None
    )
    tls = terminating is not None and terminating.HasField("tls_context")
    proxy_header = any(f.WhichOneof("filter") == "proxy_protocol" for f in msg.listener_filters)
    if not tls and not proxy_header:
        return None
    return (0b00101111 if tls else 0) | (0b01000000 if proxy_header else 0)


def drain_to(sock, level: int) -> None:
    """The peer of `sock` reads just enough to leave the connection's write buffer at DRAIN_LEVELS[level]
    (nothing when it is at or under that level already, or has no watermarks)."""
    buf = sock.conn.write_buffer
    if not buf.high_watermark:
        return
    n = len(buf) - max(0, DRAIN_LEVELS[level][1](buf.low_watermark, buf.high_watermark))
    if n > 0:
        sock.peer_read(n)


class CheckedWatermarkBuffer(WatermarkBuffer):
    """A WatermarkBuffer that checks the watermark model after every change of its length, not
    only between actions: a boundary the buffer passes through inside one action (drained to
    exactly the low watermark, then refilled before the action ends) is still checked."""

    __slots__ = ()

    def _changed(self) -> None:
        super()._changed()
        # check_watermark_state's two conditions, inline: this runs on every change of every buffer.
        high, n, above = self.high_watermark, len(self._data), self._above_high
        if high and (n > high and not above or n <= self.low_watermark and above):
            oracles.check_watermark_state("a buffer, checked on change", self)


def check_every_buffer_change(conn) -> None:
    """Make both watermark buffers of `conn` checked ones (same layout: only the class changes)."""
    for buf in (conn.read_buffer, conn.write_buffer):
        if type(buf) is WatermarkBuffer:
            buf.__class__ = CheckedWatermarkBuffer


class _CheckedNetwork(sim.SimNetwork):
    """The simulated network, with every upstream connection's buffers checked on every change;
    its peers answer TLS when the proxy speaks it (fuzz/tls_peer.py)."""

    socket_class = TlsSocket

    def __init__(self, dispatcher) -> None:
        super().__init__(dispatcher)
        self.times: dict[Connection, UpstreamTimes] = {}  # what the retry model reads
        self.accept_next = 0  # connections still to be accepted as soon as they are made

    def connect(self, host, port, buffer_limit=sim.DEFAULT_BUFFER_LIMIT):
        conn = super().connect(host, port, buffer_limit)
        check_every_buffer_change(conn)
        check_no_write_after_upstream_end(conn)
        times = self.times[conn] = UpstreamTimes(self.dispatcher)
        conn.add_connection_callbacks(times)
        if self.accept_next and conn in self.pending:
            self.accept_next -= 1
            self.dispatcher.post(lambda: self.complete_connect(conn) if conn in self.pending else None)
        return conn


def peer_of(conn: Connection) -> TlsSocket:
    """The far end of a session's upstream connection: _CheckedNetwork makes every one a TlsSocket."""
    sock = conn.io
    assert isinstance(sock, TlsSocket), sock
    return sock


# What the client (downstream op) or the server (upstream_ op) does at its end of a connection.
_PEER_ACTS: dict[str, Callable[..., object]] = {
    "send": lambda sock, a, payloads: sock.peer_send(a.payload, a.end_stream),
    "http": lambda sock, a, payloads: sock.peer_send(payloads[a.value](a.payload, sock), a.end_stream),
    "read": lambda sock, a, payloads: sock.peer_read(a.value or None),
    "read_to": lambda sock, a, payloads: drain_to(sock, a.value),
    "close": lambda sock, a, payloads: sock.peer_close(),
    "reset": lambda sock, a, payloads: sock.peer_reset(),
}


def _act_as_peer(sock, verb: str, a: Action, payloads) -> None:
    _PEER_ACTS[verb](sock, a, payloads)


class UnreliableLog:
    """The sessions' access log sink: hands each record to `inner` (the access log model's, or
    none), and every other write then fails as a log whose reader is gone (EPIPE) or whose disk is
    full. What becomes of a record must never reach its request (proxy.http.access_log.emit):
    found live, a raising write closed the connection the stream ended on, and in-memory sinks
    that never fail had hidden it from every harness."""

    def __init__(self, inner=None) -> None:
        self.inner = inner
        self.count = 0

    def write(self, record: dict) -> None:
        if self.inner is not None:
            self.inner.write(record)
        self.count += 1
        if self.count % 2 == 0:
            raise BrokenPipeError(32, "Broken pipe")


class Session:
    """A fresh server instance over a built (immutable, shared) configuration."""

    def __init__(
        self,
        built,
        read_size: int = READ_SIZES[0],
        seed: int = 0,
        on_connection=None,
        check_bytes: bool = True,
        sources=SOURCES,
        extra_ports=(),
        models: bool = False,
    ) -> None:
        """`on_connection(conn)` sees each accepted downstream connection (harnesses add probe
        filters there); `check_bytes=False` turns off byte conservation when a probe drops data;
        `sources` and `extra_ports` widen what connect actions reach (connect_address); `models`
        judges chains, policies and routes with the reference models (fuzz.models.session_oracle)."""
        self.built = built
        self.sources, self.extra_ports = sources, extra_ports
        self.read_size = read_size
        self.on_connection = on_connection
        self.check_bytes = check_bytes
        self.dispatcher = SimulatedDispatcher()
        filter_timers.watch(self.dispatcher)
        self.network = _CheckedNetwork(self.dispatcher)
        self.ctx = instantiate(built, self.dispatcher, self.network, seed=seed)
        self.ctx.token_buckets = shared_buckets_paired.factory(self.dispatcher)  # the workers' buckets judged too
        self._rate_limit_filters = ratelimit_scope.configured(bootstrap_of(built))
        self.downstream: list[TlsSocket] = []
        self.peers = Peers(self.dispatcher, self.network)
        self.actions_run = 0
        self.ctx.filter_observer = oracles.FilterRules()
        self.models = SessionModel(self) if models else None
        # Never the terminal or a file; the model's own sink (if any) still gets every record.
        inner = self.ctx.open_access_log
        self.ctx.open_access_log = lambda spec: UnreliableLog(inner(spec) if inner is not None else None)
        self._connect_timeouts = timeouts.connect_timeouts_by_endpoint(bootstrap_of(built))
        self._quiet = False  # the last check found the world as it left it (see run)

    # -- running --------------------------------------------------------------------------
    def run(self, actions) -> "Session":
        for action in actions:
            acted = self.apply(action)
            ran = self.dispatcher.run_posted()
            moved = tls_session.drive(self)
            # An action that found nothing to act on (a 17th connect, a read on a connection never
            # made) after a check that changed nothing leaves the world as checked: checking it
            # again cannot find anything. Fuzzed inputs are full of such actions.
            if acted or ran or moved or not self._quiet:
                before = self._io_stamp()
                self.check()  # the strict peers may answer in it (HTTP/2 credit, SETTINGS ACKs)
                self._quiet = self._io_stamp() == before and not self.dispatcher.pending_posted
            self.actions_run += 1
        self.finish()
        if self.models is not None:
            self.models.finish(self.peers.exchanges)  # outcomes recorded before the shutdown stand
            counters = self.ctx.stats.counters
            boot = bootstrap_of(self.built)
            lb.check_round_robin_requests(
                boot, counters, self.requests_seen(), self.tcp_choices(), self.pool_failures()
            )
            check_upstream_requests_total(counters)
        return self

    def requests_seen(self) -> list:
        """(cluster, endpoint) of every request an upstream peer read."""
        return [(up.cluster, up.endpoint) for server in self.peers.servers for up in getattr(server, "seen", ())]

    def tcp_upstreams(self) -> list:
        """Every upstream connection a tcp_proxy opened; the others belong to HTTP pools."""
        return [conn for conn in self.network.opened if not _pooled(conn)]

    def tcp_choices(self) -> list:
        """(cluster, endpoint) of every upstream connection a tcp_proxy opened (a load balancer choice
        each); the others belong to HTTP pools, whose requests are the choices."""
        return [(cluster_of(conn), conn.remote_address) for conn in self.tcp_upstreams()]

    def pool_failures(self) -> list:
        """(cluster, endpoint) of every HTTP pool connection that never connected (refused, timed out,
        its TLS handshake failed): where the requests a connect failure ended had chosen to go."""
        return [
            (cluster_of(conn), conn.remote_address)
            for conn in self.network.opened
            if self.network.times[conn].failed_to_connect and _pooled(conn)
        ]

    def apply(self, a: Action) -> bool:
        """Do one action; False when it found nothing to act on and changed nothing."""
        return _APPLY[a.op](self, a)

    def _advance(self, a: Action) -> bool:
        self.dispatcher.advance(a.value)
        return True

    def _settings(self, a: Action) -> bool:
        self.peers.choose_settings(a.op == "settings", a.target, settings_from_byte(a.value), withholds_credit(a.value))
        return True

    def _window(self, a: Action) -> bool:
        self.peers.raise_window(a.op == "window", a.target, large_transfer_settings(a.value))
        return True

    def _connect(self, choice: int, variant: int = 0, tls_mode: int | None = None) -> bool:
        """`choice` picks the listener and the source address; `variant` the server name (SNI)
        and destination port among those the listener's chains match on, so every chain is
        reachable (a chain matching only on a server name was otherwise never run). With
        `tls_mode` (connect_tls) the server name travels as TLS SNI, if at all (tls_session)."""
        if len(self.downstream) >= MAX_CONNECTIONS or not self.built.listeners or self.ctx.draining:
            return False  # a draining server accepts nothing new
        listener, local, source, server_name = connect_address(
            self.built, choice, variant, self.sources, self.extra_ports
        )
        sock = TlsSocket(self.read_size)
        sock.fuzz_targets = route_targets(self.built, PATHS, HOSTS)  # what templated requests ask for
        remote = (source, 40000 + len(self.downstream))
        passed = server_name if tls_mode is None else ""
        sock.fuzz_connect = (self.built.listeners.index(listener), local, remote, passed)
        sock.fuzz_chain_judged = not listener.listener_filters
        conn = listener.create_connection(self.ctx, sock, local, remote, server_name=passed)
        self.downstream.append(sock)
        self.peers.downstream(sock)
        if self.models is not None:
            self.models.accepted(len(self.downstream) - 1, listener, local, remote, passed, conn)
        if conn is not None:
            check_every_buffer_change(conn)
        if conn is not None and self.on_connection is not None:
            self.on_connection(conn)
        if conn is not None and tls_mode is not None:
            claimed = (self.sources[(self.sources.index(source) + 1) % len(self.sources)], 5000 + len(self.downstream))
            filters = bootstrap_of(self.built).listeners[sock.fuzz_connect[0]].listener_filters
            header_read = any(f.WhichOneof("filter") == "proxy_protocol" for f in filters)
            tls_session.start_client(sock, tls_mode, server_name, local, claimed, header_read)
        return True

    def _drain(self) -> bool:
        """Start the server's drain. Envoy (intro/arch_overview/operations/draining): "HTTP
        connection managers ... send HTTP/2 GOAWAY frames and add Connection: close to HTTP/1
        responses", so a request the proxy is serving (forwarded upstream, not yet answered) still
        gets its response: the drain itself closes no connection that carries one. Served means the
        proxy still has its stream: a response already written (the client has not read it yet) goes
        out with the close's flush."""
        if self.ctx.draining:
            return False
        busy = {
            ex.downstream for ex in self.peers.exchanges if ex.outcome is None and ex.upstreams and self._serving(ex)
        } | {i for i, sock in enumerate(self.downstream) if _head_arriving(sock.conn)}
        conns: list[tuple[int, Connection]] = []
        for i in sorted(busy):
            conn = self.downstream[i].conn
            if conn is not None and conn.is_open:
                conns.append((i, conn))
        floods = {i: _outbound_floods(conn) for i, conn in conns}
        self.ctx.start_drain()
        for i, conn in conns:
            if not conn.is_open and _outbound_floods(conn) == floods[i]:
                raise oracles.InvariantViolation(
                    "drain_closed_request_in_flight",
                    f"the drain closed downstream connection {i}, which carried a request already forwarded "
                    "upstream and not yet answered, or one whose head was arriving",
                    judged="proxy/http/conn_manager.py:HttpConnectionManager._on_drain",
                    expected="open until its responses are sent",
                    observed=conn.state.value,
                )
        return True

    def _serving(self, ex) -> bool:
        """The proxy still has a live stream for exchange `ex` (its response not all written)."""
        conn = self.downstream[ex.downstream].conn
        hcm = liveness.read_filter(conn, liveness.HttpConnectionManager) if conn is not None else None
        stream = hcm.streams.get(ex.stream) if hcm is not None else None
        return stream is not None and not stream.ended

    def _downstream(self, a: Action) -> bool:
        if not self.downstream:
            return False
        sock = self.downstream[a.target % len(self.downstream)]
        if sock.conn is None:
            return False
        if a.op == "send_request":
            a = Action(a.op, a.target, _fitting_template(sock), a.payload, a.end_stream)
        _act_as_peer(sock, "http" if a.op in ("send_http", "send_request") else a.op, a, DOWNSTREAM_PAYLOADS)
        return True

    def _accept_next(self, a: Action) -> bool:
        self.network.accept_next = a.value + 1
        return True

    def _upstream(self, a: Action) -> bool:
        opened = self.network.opened
        if a.op in ("upstream_connect", "upstream_fail", "upstream_connect_silent"):
            if not self.network.pending:
                return False
            conn = self.network.pending[a.target % len(self.network.pending)]
            if a.op == "upstream_connect_silent":
                peer_of(conn).silent = True
                self.network.complete_connect(conn)
                return True
            (self.network.complete_connect if a.op == "upstream_connect" else self.network.fail_connect)(conn)
            return True
        if not opened:
            return False
        up = opened[a.target % len(opened)] if a.op != "upstream_respond" else self._owing(a.target)
        if up is None or not up.connected:
            return False
        sock = peer_of(up)
        if a.op == "upstream_respond":
            sock.peer_read()  # a server reads the request it answers
            h2 = bytes(sock.received[: len(H2_PREFACE)]) == H2_PREFACE
            a = Action("upstream_http", a.target, _H2_RESPONSE if h2 else _H1_RESPONSE, a.payload, a.end_stream)
        _act_as_peer(sock, a.op.removeprefix("upstream_"), a, UPSTREAM_PAYLOADS)
        return True

    def _owing(self, target: int) -> Connection | None:
        """upstream_respond's connection: the target-th of the open upstream connections that owe an
        answer (bytes the peer has not read, or a request it read and did not answer), else of all
        the open ones. A scenario cannot know which of them its request went to."""
        live = [(i, c) for i, c in enumerate(self.network.opened) if c.connected and c.state is not State.CLOSED]
        servers = self.peers.servers
        owing = [
            c
            for i, c in live
            if peer_of(c).inbound
            or any(up.response is None for up in getattr(servers[i] if i < len(servers) else None, "seen", ()))
        ]
        candidates = owing or [c for _, c in live]
        return candidates[target % len(candidates)] if candidates else None

    def _hcm_config_of(self, index: int):
        """The HTTP connection manager configuration serving downstream connection `index`, or None."""
        conn = self.downstream[index].conn if index < len(self.downstream) else None
        managers = _managers_of(conn) if conn is not None else []
        return managers[0].config if managers else None

    def _upstream_goaway(self, a: Action) -> bool:
        """An HTTP/2 upstream's graceful GOAWAY (it goes on answering the streams it names)."""
        opened = [c for c in self.network.opened if c.connected]
        server = self.peers.h2_server(peer_of(opened[a.target % len(opened)])) if opened else None
        if server is None or server.unheard:
            return False
        server.conn.graceful_goaway()
        server.sock.peer_send(server.flush())
        return True

    def finish(self) -> None:
        """Settle the session (peers do what they owe, timers run out: fuzz/settle.py) and judge
        what is still in flight (fuzz/liveness.py); then shut everything down."""
        settle.settle(self)
        liveness.check(self)
        delivery.check_responses_delivered(self)  # a response read in full reaches its client
        check_idle_connections_close(self)  # idle HTTP connections end by their idle_timeout
        check_request_heads_time_out(self)  # a request head still arriving ends by the stream idle timeout
        # Shut everything down: whatever was counted as active must be released.
        for sock in self.downstream:
            sock.peer_reset()
        for conn in list(self.network.pending):
            self.network.fail_connect(conn)
        for conn in self.network.opened:
            peer_of(conn).peer_reset()
        self.dispatcher.advance(120_000)
        self.check()
        oracles.check_gauges_drained(self.ctx.stats)
        oracles.check_http_requests_accounted(self.ctx.stats)
        if self.peers.all_understood:
            hcm_stats.check_requests_per_protocol(
                self.ctx.stats.counters, self.peers.exchanges, self.peers.h1_connections
            )
            breakers.check_request_overflows(bootstrap_of(self.built), self.ctx.stats.counters, self.peers.exchanges)
        timeouts.check_stream_idle_timeouts(self.peers.exchanges, self._hcm_config_of)
        hcm_stats.check_codec_counters_exported(
            self.ctx.stats.counters,
            [hcm.codec for s in self.downstream if s.conn is not None for hcm in _managers_of(s.conn)],
        )
        hcm_stats.check_owner_resets_bounded(self.ctx.stats.counters)
        self.peers.finish()

    # -- oracles --------------------------------------------------------------------------
    def _io_stamp(self) -> tuple:
        """What moved on the sockets so far: equal stamps, nothing was sent, read or closed between."""
        socks = self.downstream + [peer_of(c) for c in self.network.opened]
        return (
            len(socks),
            len(self.network.pending),
            sum(
                len(s.sent)
                + len(s.received)
                + len(s.wire_sent)
                + len(s.wire_received)
                + int(s.is_closed)
                + int(s.peer_saw_end)
                for s in socks
            ),
        )

    def connections(self):
        return [s.conn for s in self.downstream if s.conn is not None] + list(self.network.opened)

    def check(self) -> None:
        self.peers.observe()
        if self.models is not None:
            self.models.check()
        for conn in self.connections():
            oracles.check_read_buffer_bound(conn, self.read_size if not conn.is_client else sim.READ_SIZE)
            for name, buf in (("read_buffer", conn.read_buffer), ("write_buffer", conn.write_buffer)):
                if type(buf) is not CheckedWatermarkBuffer:  # a checked one was judged at its every change
                    oracles.check_watermark_state(name, buf, conn)
        oracles.check_token_buckets(self.ctx.shared)
        ratelimit_scope.check(self.ctx.shared, self._rate_limit_filters)
        breakers.check_max_connections(
            bootstrap_of(self.built), ((c.remote_address, c.state is not State.CLOSED) for c in self.network.opened)
        )
        timeouts.check_connect_timeouts(
            self._connect_timeouts,
            ((c, self.network.times[c].opened_ms) for c in self.network.opened),
            self.dispatcher.now_ms(),
        )
        held.check(self)
        closing.check(self)  # a connection the proxy closes ends, read or not
        check_head_deadlines(self)  # a request head is answered by its stream idle timeout from its first byte
        liveness.check_pool_queues(self)
        tls_session.check(self)
        if self.check_bytes:
            self._check_tcp_proxy_bytes()

    def _check_tcp_proxy_bytes(self) -> None:
        for sock in self.downstream:
            conn = sock.conn
            if conn is None:
                continue
            upstream = conn.stream_info.get("upstream_connection")
            if upstream is None or conn.stream_info.get("terminal") != "tcp_proxy":
                continue
            up = peer_of(upstream)
            # Downstream -> upstream: what the proxy read from the client reaches the upstream; not a
            # PROXY header its listener filters drained, nothing before Connected (a TLS chain's
            # handshake; a client speaking clear text to it never gets anything through).
            # The proxy relays plaintext on a TLS chain, and on a plaintext one whatever the client's
            # wire carried (a TLS client's records included). A client that speaks clear text to a
            # TLS chain has no plaintext: it reads only the proxy's TLS records (an alert), which
            # tls_session judges (tls_plaintext_on_the_wire); none of them is a relayed byte.
            tls = speaks_tls(conn)
            sent = bytes(sock.sent if tls else sock.wire_sent)[conn.stream_info.get("listener_drained", 0) :]
            oracles.check_stream_prefix(
                "downstream->upstream",
                sent if conn.connected else b"",
                bytes(up.received),
                finished=up.peer_saw_end or _closed_after_a_clean_end(sock, up),
            )
            received = (sock.received if sock.tls else b"") if tls else sock.wire_received
            oracles.check_stream_prefix(
                "upstream->downstream",
                bytes(up.sent) if conn.connected else b"",
                bytes(received),
                finished=sock.peer_saw_end or _closed_after_a_clean_end(up, sock),
            )

    # -- results --------------------------------------------------------------------------
    def digest(self) -> str:
        """What the session did, as a hash: equal inputs must give equal digests."""
        h = hashlib.sha256()
        for sock in self.downstream + [peer_of(c) for c in self.network.opened]:
            h.update(bytes(sock.received))
            h.update(b"|%d|" % sock.peer_saw_end)
        h.update(repr(sorted(self.ctx.stats.counters.items())).encode())
        h.update(b"%d" % self.dispatcher.now_ms())
        return h.hexdigest()


def _pooled(conn: Connection) -> bool:
    """An upstream connection an HTTP pool owns (tcp_proxy opens the others)."""
    return any(isinstance(cb, PoolConnection) for cb in getattr(conn, "_callbacks", ()))


def _head_arriving(conn: Connection | None) -> bool:
    """The HTTP/1.1 connection holds the first bytes of a request whose head has not arrived whole.
    Envoy's HTTP/1 stream exists from a request's first byte, so a drain answers it (with
    connection: close) instead of closing the connection under the client."""
    if conn is None or not conn.is_open:
        return False
    hcm = liveness.read_filter(conn, liveness.HttpConnectionManager)
    codec = liveness.inner_codec(hcm.codec) if hcm is not None and hcm.codec is not None else None
    return bool(getattr(codec, "request_started", False))


def _outbound_floods(conn: Connection) -> int:
    """Times the connection's HTTP/2 codec gave up on a client that does not read (more frames
    queued than max_outbound_frames / max_outbound_control_frames). The drain's GOAWAY is one more
    frame in that queue, as in Envoy, so a drain may legitimately tip a non-reading client over
    the configured limit (found: a 6-minute session campaign, max_outbound_frames 3)."""
    hcm = liveness.read_filter(conn, liveness.HttpConnectionManager)
    stats = hcm.codec.stats if hcm is not None and hcm.codec is not None else {}
    return stats.get("h2_outbound_flood", 0) + stats.get("h2_outbound_control_flood", 0)


_H1_REQUEST, _H2_REQUEST = (
    DOWNSTREAM_PAYLOADS.index(payloads.h1_request),
    DOWNSTREAM_PAYLOADS.index(payloads.h2_request),
)
_H1_RESPONSE, _H2_RESPONSE = (
    UPSTREAM_PAYLOADS.index(payloads.h1_response),
    UPSTREAM_PAYLOADS.index(payloads.h2_response),
)


def _fitting_template(sock: TlsSocket) -> int:
    """The request template (h1_request or h2_request) a client configured for its connection uses:
    what TLS ALPN chose; else what its connection manager's codec speaks; an AUTO codec, what the
    client spoke on it before (HTTP/1.1 when nothing yet: the preface-less default); a connection
    without a connection manager (tcp_proxy, listener filters still reading) gets HTTP/1.1."""
    alpn = sock.obj.selected_alpn_protocol() if sock.obj is not None and sock.handshake_done else None
    if alpn in ("h2", "http/1.1"):
        return _H2_REQUEST if alpn == "h2" else _H1_REQUEST
    hcm = liveness.read_filter(sock.conn, liveness.HttpConnectionManager) if sock.conn is not None else None
    codec = hcm.config.codec if hcm is not None else "HTTP1"
    if codec == "AUTO":
        codec = "HTTP2" if getattr(sock, "fuzz_h2_client", None) is not None else "HTTP1"
    return _H2_REQUEST if codec == "HTTP2" else _H1_REQUEST


def _managers_of(conn: Connection) -> list:
    """The HTTP connection manager of a downstream connection, if it got one (its codec, once made)."""
    hcm = liveness.read_filter(conn, liveness.HttpConnectionManager)
    return [hcm] if hcm is not None and getattr(hcm, "codec", None) is not None else []


def _closed_after_a_clean_end(sender: TlsSocket, receiver: TlsSocket) -> bool:
    """tcp_proxy (Envoy's TcpProxy::Filter) closes one side with FlushWrite when the other ended
    cleanly: the upstream's end of stream, or the client's (its connection closing once both
    directions ended is clean too). So once a plaintext receiver's connection is closed after the
    sender's end of stream (all of it read by the proxy), the receiver has everything the sender sent;
    unless either peer aborted, or the proxy ended the pair for a reason of its own (stream_info
    "failure": the idle timeout closes both sides NoFlush by design)."""
    sending, receiving = sender.conn, receiver.conn
    if sending is None or receiving is None or receiving.state is not State.CLOSED:
        return False
    if not (sending.connected and receiving.connected):  # the upstream never connected: nothing was relayed
        return False
    if sender.tls or receiver.tls or sender.reset_sent or receiver.reset_sent:
        return False
    if not sender.inbound_end or sender.inbound:  # the sender's end of stream is not all read yet
        return False
    if not _end_reached_tcp_proxy(sending):
        return False
    return not (sending.stream_info.get("failure") or receiving.stream_info.get("failure"))


def _end_reached_tcp_proxy(sending: Connection) -> bool:
    """A client's end of stream reaches tcp_proxy through the read filters before it. One of them
    may still hold bytes (fault's delay or throttle) when both halves of the connection have ended,
    and the connection then closes with them in its read buffer, as Envoy's does (ConnectionImpl
    closes the socket once both sides are half-closed): those bytes were never tcp_proxy's to
    relay. An upstream's bytes go straight to tcp_proxy."""
    if sending.is_client:
        return True
    relay = liveness.read_filter(sending, TcpProxyFilter)
    return relay is not None and relay.end_sent_upstream


# What each op of OPS does (Session.apply): every op has one entry (tests/fuzz/test_session.py).
_APPLY: dict[str, Callable[[Session, Action], bool]] = {
    "connect": lambda s, a: s._connect(a.value, a.target),
    "connect_tls": lambda s, a: s._connect(a.value, a.target, a.payload[0] if a.payload else 0),
    "connect_fitting": lambda s, a: s._connect(
        a.value, a.target, fitting_tls_mode(s.built, a.value, a.target, s.sources)
    ),
    "advance": Session._advance,
    "drain": lambda s, a: s._drain(),
    "settings": Session._settings,
    "upstream_settings": Session._settings,
    "window": Session._window,
    "upstream_window": Session._window,
    **{op: Session._downstream for op in ("send", "send_http", "send_request", "read", "read_to", "close", "reset")},
    **{op: Session._upstream for op in OPS if op.startswith("upstream_") and op not in _SETTINGS_OPS},
    "upstream_goaway": Session._upstream_goaway,
    "upstream_accept_next": Session._accept_next,
}


class ConfigPool:
    """Stage-1 configurations, built once and shared (immutable) by every input.

    The pool is the committed generated configs (corpus/session_configs/*.yaml, made by
    fuzz/configgen/ from the schema) plus the hand-written examples. An input's first
    byte picks one, so libFuzzer's mutations of the rest change only the actions.
    """

    def __init__(self, paths) -> None:
        from proxy.build import build

        from .test_pki import load_config

        self.names: list[str] = []
        self.built: list = []
        for path in sorted(paths, key=pool_order):
            self.names.append(str(path))
            self.built.append(build(load_config(path)))
        if not self.built:
            raise ValueError("empty configuration pool")

    @classmethod
    def default(cls, root=None) -> "ConfigPool":
        from pathlib import Path

        root = Path(root or Path(__file__).resolve().parent.parent)
        from .test_pki import ensure

        ensure()  # TLS configurations name the test PKI's files (made on first use)
        return cls(pool_paths(root))


# The families come after every other entry of the pool, each after the one before it, so adding
# one moved no committed seed's configuration (byte 0 below the old pool's size; fuzz/pool_migrate.py
# moves the few that are not): forwarding (fuzz/configgen/forwarding.py), then TLS identities
# (fuzz/configgen/identities.py).
FORWARDING_DIR = "corpus/session_configs/forwarding"
IDENTITIES_DIR = "corpus/session_configs/identities"
FAMILY_DIRS = (FORWARDING_DIR, IDENTITIES_DIR)
POOL_DIRS = ("corpus/session_configs", "examples", *FAMILY_DIRS)


def family_of(path) -> str | None:
    """The family directory of a pool file (one of FAMILY_DIRS), or None."""
    from pathlib import Path

    parent = Path(path).parent.as_posix()
    return next((d for d in FAMILY_DIRS if parent.endswith(d)), None)


def pool_order(path) -> tuple:
    """ConfigPool's order: by path, the families last, in FAMILY_DIRS order."""
    family = family_of(path)
    return (0 if family is None else 1 + FAMILY_DIRS.index(family), str(path))


def pool_paths(root) -> list:
    """The session pool's files under `root`, in ConfigPool's order."""
    from pathlib import Path

    root = Path(root)
    return sorted((p for d in POOL_DIRS for p in (root / d).glob("*.yaml")), key=pool_order)


def decode_input(pool: ConfigPool, data: bytes) -> tuple[int, int, list[Action]]:
    """(pool index, read size, actions) of an input: config from the first byte, read size from
    the second, actions from the rest."""
    reader = Reader(data)
    index = reader.int(1, 256) % len(pool.built)
    read_size = READ_SIZES[reader.int(1, len(READ_SIZES))]
    return index, read_size, decode_actions(reader)


def run_input(pool: ConfigPool, data: bytes) -> Session:
    """The session harness's body."""
    index, read_size, actions = decode_input(pool, data)
    built = pool.built[index]
    return Session(built, read_size=read_size, models=True, sources=edge_sources(built, SOURCES)).run(actions)


def describe_actions(actions) -> list[str]:
    return [f"{i:3}  {a.describe()}" for i, a in enumerate(actions)]


def describe_input(pool: ConfigPool, data: bytes) -> str:
    """An input as run_input reads it, one action a line (crash reports show this)."""
    index, read_size, actions = decode_input(pool, data)
    from pathlib import Path

    name = Path(pool.names[index])
    shown = name.relative_to(Path.cwd()) if name.is_relative_to(Path.cwd()) else name
    return "\n".join([f"config {shown}, read size {read_size}"] + describe_actions(actions))
