"""The listener filter contract (Envoy's Network::ListenerFilter), stated once, and the stage
that runs a listener's filters on an accepted connection before its filter chain is chosen.

A listener filter reads the first bytes of a connection without taking them (Envoy peeks at the
socket) and records what it finds on the connection, for chain matching and the filters after:
`server_name`, `transport_protocol`, `application_protocols` (tls_inspector, http_inspector),
`remote_address` and `local_address` (proxy_protocol, which keeps the TCP peer in
`direct_remote_address`). It implements:

  max_read_bytes                    the most bytes it ever needs to see (0: it reads none)
  on_accept(cb) -> status           once, first. CONTINUE: done; STOP_ITERATION: wants bytes
  on_data(data) -> status           every byte received so far and not drained (at most
                                    max_read_bytes of them), again after each read while it
                                    returns STOP_ITERATION; CONTINUE when it has decided

Through `cb` (ListenerFilterCallbacks) it may `drain(n)` bytes that were its own (a PROXY header:
they never reach the filter chain), `inc(stat)` its counters (`listener.<name>.<stat>`) and
`reject(stat)` the connection (malformed input: the connection is closed, the stat counted). Anything else it does not do: it
never writes, and the same bytes in any split give the same result.

The stage (ListenerFilterStage) is the connection's transport socket until its filters finish:
it holds what the peer sent, runs the filters in order, and then

  * picks the filter chain (proxy/network/chain_match.py) from what they found;
  * gives the bytes nobody drained back to the transport (ConnectionIO.unread), which delivers
    them again, one read at a time, to the chain's transport socket and filters.

It closes the connection when a filter rejects it, when the peer ends the stream while a filter
still waits for bytes, when a filter still wants more than its max_read_bytes, and when the
listener's timeout (listener_filters_timeout, default 15 s) passes first, unless the listener
continues on timeout (continue_on_listener_filters_timeout): then it picks the chain from what
was found so far. Stats `listener.<name>.`: downstream_pre_cx_active (gauge),
downstream_pre_cx_timeout, and each filter's own.
"""

from ..event import Timer
from .connection import CloseType, Connection, ConnectionEvent
from .filter import CONTINUE, STOP_ITERATION, ConnectionCallbacks
from .registry import Registry
from .transport_socket import TransportSocket


class ListenerFilter:
    """Base of listener filters; subclasses override what they need."""

    max_read_bytes = 0

    def on_accept(self, cb: "ListenerFilterCallbacks"):
        self.cb = cb
        return STOP_ITERATION if self.max_read_bytes else CONTINUE

    def on_data(self, data: bytes):
        return CONTINUE


class ListenerFilterCallbacks:
    """What a listener filter may ask of the stage running it."""

    connection: Connection  # the accepted connection the filters read

    def inc(self, stat: str) -> None:
        """Count `listener.<name>.<stat>`."""
        raise NotImplementedError

    def drain(self, n: int) -> None:
        raise NotImplementedError

    def reject(self, stat: str) -> None:
        raise NotImplementedError


# Factories `factory(config_message, build) -> make`, where make(ctx) -> a fresh ListenerFilter.
_LISTENER_FILTERS = Registry("listener filter")
register_listener_filter = _LISTENER_FILTERS.register
listener_filter_factory = _LISTENER_FILTERS.factory
registered_listener_filters = _LISTENER_FILTERS.names


class ListenerFilterStage(TransportSocket, ListenerFilterCallbacks, ConnectionCallbacks):
    """Runs `filters` (fresh ListenerFilter instances) on `conn`, then calls `done(conn)` with
    what they found, or closes the connection (see the module docstring)."""

    def __init__(
        self, conn: Connection, filters, stats, stat_prefix: str, timeout_ms: int, continue_on_timeout: bool, done
    ) -> None:
        self.connection = conn
        self.filters = list(filters)
        self.stats = stats
        self.prefix = stat_prefix
        self.continue_on_timeout = continue_on_timeout
        self.done = done
        self.held = bytearray()  # received, not drained: what on_data sees
        self.index = 0  # the filter running now
        self.finished = False
        self.end_stream = False
        self.timer: Timer | None = None
        stats.gauge_add(stat_prefix + "downstream_pre_cx_active", 1)
        conn.add_connection_callbacks(self)
        if timeout_ms:
            self.timer = conn.dispatcher.create_timer(self._on_timeout)
            self.timer.enable(timeout_ms)

    # -- ListenerFilterCallbacks ---------------------------------------------------------------
    def drain(self, n: int) -> None:
        del self.held[:n]
        info = self.connection.stream_info
        info["listener_drained"] = info.get("listener_drained", 0) + n

    def inc(self, stat: str) -> None:
        self.stats.inc(self.prefix + stat)

    def reject(self, stat: str) -> None:
        self.inc(stat)
        self._close()

    # -- TransportSocket -----------------------------------------------------------------------
    def start(self) -> None:
        """Run on_accept of the filters; those that need no bytes finish at once."""
        self._run(accepting=True)

    def on_wire_read(self, conn, data: bytes, end_stream: bool) -> None:
        if self.finished:
            return
        self.held += data
        self.end_stream |= end_stream
        self._run(accepting=False)

    def take_wire_output(self, conn, max_bytes) -> bytes:
        return b""  # nothing is written before a filter chain is chosen

    # -- ConnectionCallbacks -------------------------------------------------------------------
    def on_event(self, event) -> None:
        if event is not ConnectionEvent.CONNECTED:
            self._end()

    # -- running -------------------------------------------------------------------------------
    def _run(self, accepting: bool) -> None:
        conn = self.connection
        while self.index < len(self.filters) and conn.is_open:
            f = self.filters[self.index]
            status = f.on_accept(self) if accepting else self._feed(f)
            if not conn.is_open:
                return
            if status is STOP_ITERATION and not accepting:
                if self.end_stream or len(self.held) >= f.max_read_bytes:
                    self._close()  # the peer stopped (or the filter broke its limit) first
                return
            if status is STOP_ITERATION and not self.held and not self.end_stream:
                return  # wait for the first bytes
            if status is STOP_ITERATION:
                accepting = False
                continue  # bytes are already here: on_data now
            self.index += 1
            accepting = True
        if conn.is_open:
            self._finish()

    def _feed(self, f):
        # One copy of what the filter may read, not two (a bytearray slice, then bytes of it): every
        # read hands a filter all it has seen, so a peer trickling 64 KiB a byte a read costs
        # n^2/2 bytes of copying; halved here, the per-read cost stays (Envoy peeks the same way).
        return f.on_data(bytes(memoryview(self.held)[: f.max_read_bytes]))

    def _on_timeout(self) -> None:
        if self.finished or not self.connection.is_open:
            return
        self.stats.inc(self.prefix + "downstream_pre_cx_timeout")
        self.connection.stream_info["listener_filters_timeout"] = True
        if self.continue_on_timeout:
            self._finish()
        else:
            self._close()

    def _close(self) -> None:
        self.connection.close(CloseType.NO_FLUSH)  # on_event ends the stage

    def _end(self) -> None:
        if self.finished:
            return
        self.finished = True
        if self.timer is not None:
            self.timer.disable()
        self.stats.gauge_add(self.prefix + "downstream_pre_cx_active", -1)
        self.connection.remove_connection_callbacks(self)

    def _finish(self) -> None:
        conn = self.connection
        self._end()
        conn.transport_socket = None
        if not conn.transport_protocol:
            conn.transport_protocol = "raw_buffer"  # Envoy's default when no filter detected one
        held, self.held = bytes(self.held), bytearray()
        self.done(conn)
        if conn.is_open and (held or self.end_stream):
            conn.io.unread(conn, held)  # the transport delivers a held end of stream after them
