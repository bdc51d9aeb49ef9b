"""Drain as a user of a stop signal sees it, judged for the runtime harness (fuzz/targets/runtime.py).

A stop (SIGTERM) closes the listeners and waits, at most the drain timeout, for the client
connections in flight to finish; once the last of them has closed there is nothing left to wait
for, and the process stops (Envoy's drain ends with its downstream connections: upstream
connections only serve them, and what the pools still hold is idle). A drain that runs its whole
timeout with no client left turns every restart or rolling deploy into a fixed wait, and its
"drain timeout" log into noise (runtime_drain_outlived_its_clients).

Watched from outside, in the harness's virtual time: after each step of a run whose stop has begun,
the first moment every client's socket has been closed by the proxy is noted; the stop must then
have ended (Server.stop returned) within STOP_AFTER_CLIENTS_S of it.

The other half of the same promise: the connections open when the stop began are left to finish
until the drain timeout (or a second signal, which ends the drain). A tcp_proxy connection does not
change with a drain (Envoy drains only what has a protocol to say it: HTTP's Connection: close and
GOAWAY), so one the proxy ends before then, while the same actions in memory without a stop keep it
open (runtime_reference.py), was cut short by the drain: the client of a long download or a database
session loses it on every restart (runtime_drain_cut_a_connection_short).
"""

from fuzz.oracles import InvariantViolation
from fuzz.targets.runtime_kernel import Peer

# Server.stop closes what is left, then gives closed sockets a few loop turns (10 ms each) to
# report: a stop ends well within this once its clients are gone, and well before a drain timeout.
STOP_AFTER_CLIENTS_S = 1.0


class DrainWatch:
    """Follows one run's stop: when its clients were all gone, and when the stop ended."""

    def __init__(self) -> None:
        self.clients_gone_us: int | None = None
        self.stopped_us: int | None = None
        self.drain_ends_us: float | None = None  # the drain timeout, or a second signal
        self.kept: dict[int, int | None] = {}  # client index open at the stop -> when the proxy ended it
        self.clients_at_stop = 0  # clients connected before the stop: the ones after it are refused
        self.answers_at_stop = 0  # upstream connects answered before the stop

    def stop_began(self, world) -> None:
        """`world.stopping` is the stop's task: note the moment it ends, and the accepted client
        connections it must let finish."""
        world.stopping.add_done_callback(lambda _task: self._stopped(world.loop.us))
        self.drain_ends_us = world.loop.us + world.server.drain_timeout_s * 1e6
        self.clients_at_stop, self.answers_at_stop = len(world.clients), world.answers
        queued = {id(s.peer) for listener in world.kernel.listeners.values() for s in listener.backlog}
        for i, peer in enumerate(world.clients):
            if isinstance(peer, Peer) and id(peer) not in queued and not _ended_by_proxy(peer) and not peer.did_reset:
                self.kept[i] = None

    def signalled_again(self, world) -> None:
        """A second stop signal ends the drain: what is left may be closed from now on."""
        if self.drain_ends_us is not None:
            self.drain_ends_us = min(self.drain_ends_us, world.loop.us)

    def _stopped(self, us: int) -> None:
        if self.stopped_us is None:
            self.stopped_us = us

    def note(self, world) -> None:
        """After a step: once the stop has begun, the first moment no client socket is open, and
        when the proxy ended each connection it must let finish."""
        if world.stopping is None:
            return
        for i, at in self.kept.items():
            if at is None and _ended_by_proxy(world.clients[i]):
                self.kept[i] = world.loop.us
        if self.clients_gone_us is None and not client_sockets_open(world):
            self.clients_gone_us = world.loop.us

    def check_connections_kept(self, ref, world) -> None:
        """After the run: no tcp_proxy connection open at the stop was ended before the drain was
        over while `ref` (the same actions in memory, no stop) keeps it open. Only while `ref` is the
        same run less the stop: a client that connects after the stop is refused here and accepted
        there, and an upstream connect answered after that picks from other pending connections
        (found by ci-fuzz: an upstream accept that took client 0's connection here took the late
        client's there, and client 0's upstream close ended it here only). Counted on either side: the
        late clients' connects may be the only ones the memory network answers after the stop, and the
        upstreams it adds then shift which one a later upstream action picks (campaign 12-05)."""
        late = ref.clients[self.clients_at_stop :]
        answered_after = max(world.answers, ref.answers) > self.answers_at_stop
        if any(r.sock.conn is not None for r in late) and answered_after:
            return
        for i, at in self.kept.items():
            if at is None or self.drain_ends_us is None or at >= self.drain_ends_us or world.clients[i].did_reset:
                continue
            if i >= len(ref.clients):
                continue
            r = ref.clients[i]
            conn = r.sock.conn
            if conn is None or conn.stream_info.get("terminal") != "tcp_proxy" or r.ended or r.did_reset:
                continue
            raise InvariantViolation(
                "runtime_drain_cut_a_connection_short",
                f"client {i} (tcp_proxy) was open when the stop began; the proxy ended it at {at / 1e6:.3f} s, "
                f"before the drain was over at {self.drain_ends_us / 1e6:.3f} s, while the same actions without "
                "a stop keep it open",
                judged="proxy/server.py:Server.stop",
                expected="left open until the drain timeout or a second signal",
                observed=f"ended at {at / 1e6:.3f} s",
            )

    def check(self, world) -> None:
        """After the stop ended: it did not outlast its clients by a drain's wait."""
        if self.clients_gone_us is None or self.stopped_us is None:
            return
        waited_s = (self.stopped_us - self.clients_gone_us) / 1e6
        if waited_s > STOP_AFTER_CLIENTS_S:
            raise InvariantViolation(
                "runtime_drain_outlived_its_clients",
                f"every client connection was closed at {self.clients_gone_us / 1e6:.3f} s, during the drain, yet "
                f"the stop ended only {waited_s:.3f} s later (the drain timeout is {world.server.drain_timeout_s} s)",
                judged="proxy/server.py:Server.stop",
                expected=f"stopped within {STOP_AFTER_CLIENTS_S} s of the last client's close",
                observed=f"{waited_s:.3f} s",
            )


def client_sockets_open(world) -> list:
    """The data-plane client connections whose socket the proxy has not closed (accepted or still
    queued on a listener)."""
    clients = {id(peer) for peer in world.clients}
    return [s for s in world.kernel.sockets if id(s.peer) in clients and not s.is_closed]


def _ended_by_proxy(peer) -> bool:
    """The proxy sent this peer its FIN or a reset (read by the peer or not)."""
    q = peer.from_proxy
    return bool(q.end or q.reset)
