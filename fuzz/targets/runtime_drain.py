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
"""

from fuzz.oracles import InvariantViolation

# Server.stop closes what is left, then gives closed sockets a few loop turns (10 ms each) to
# report: a stop ends well within this once its clients are gone, and well before a drain timeout.
STOP_AFTER_CLIENTS_S = 1.0


class DrainWatch:
    """Follows one run's stop: when its clients were all gone, and when the stop ended."""

    def __init__(self) -> None:
        self.clients_gone_us: int | None = None
        self.stopped_us: int | None = None

    def stop_began(self, world) -> None:
        """`world.stopping` is the stop's task: note the moment it ends."""
        world.stopping.add_done_callback(lambda _task: self._stopped(world.loop.us))

    def _stopped(self, us: int) -> None:
        if self.stopped_us is None:
            self.stopped_us = us

    def note(self, world) -> None:
        """After a step: once the stop has begun, the first moment no client socket is open."""
        if world.stopping is None or self.clients_gone_us is not None:
            return
        if not client_sockets_open(world):
            self.clients_gone_us = world.loop.us

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
