"""The listener filters' timeout, as Envoy documents it.

envoy/config/listener/v3/listener.proto, Listener.listener_filters_timeout: "The timeout to wait for
all listener filters to complete operation. If the timeout is reached, the accepted socket is closed
without a connection being created unless continue_on_listener_filters_timeout is set to true.
Specify 0 to disable the timeout. If not specified, a default timeout of 15s is used."
continue_on_listener_filters_timeout: "Whether a connection should be created when listener filters
timeout." Listener statistics (config/listeners/stats): downstream_pre_cx_timeout, "Sockets that
timed out during listener filter processing".

The model, per connection accepted by a listener with listener filters, from its accept time in
virtual time (the stage starts its clock at accept):
  - never late: a connection still open and still in its listener filters (no filter chain chosen)
    once the timeout has run out (listener_filters_outlived_their_timeout);
  - never early, never without a timeout: a connection the proxy says timed out
    (stream_info["listener_filters_timeout"]) before its deadline, or on a listener whose timeout is 0
    (listener_filters_timed_out_early);
  - the documented outcome: a timed-out socket is closed with no chain, unless the listener continues,
    when it goes on to chain matching with what the filters found (listener_filters_timeout_outcome);
  - downstream_pre_cx_timeout counts exactly the connections that timed out
    (listener_filters_timeout_counted);
  - a peer that ended its stream while a filter still waited for bytes is not waited for: once the
    proxy has read that end, the filters have decided or the connection is closed
    (listener_filters_outlived_their_peer; Envoy's ListenerFilterBuffer closes the socket on a
    remote close, and proxy/network/listener_filter.py says the same).
"""

from dataclasses import dataclass

from proxy.network.connection import Connection
from proxy.network.listener_filter import ListenerFilterStage
from proxy.network.sim import SimSocket

from fuzz.oracles import InvariantViolation

DEFAULT_TIMEOUT_MS = 15_000  # Envoy's default listener_filters_timeout
_JUDGED = ListenerFilterStage._on_timeout


@dataclass
class _Waiting:
    index: int  # the session's downstream connection index
    listener: str
    conn: Connection
    sock: SimSocket  # the client's end
    deadline_ms: int | None  # None: the listener has no timeout
    continues: bool


def timeout_ms(listener) -> int:
    """The listener's timeout (0: none), as its message says."""
    return (
        listener.listener_filters_timeout_ms if listener.HasField("listener_filters_timeout_ms") else DEFAULT_TIMEOUT_MS
    )


class ListenerTimeouts:
    """Connections accepted by listeners with listener filters, until their filters are done."""

    def __init__(self, counters: dict) -> None:
        self.waiting: list[_Waiting] = []
        self.timed_out: dict[str, int] = {}  # listener name -> connections that timed out
        self.before = {k: v for k, v in counters.items() if k.endswith(".downstream_pre_cx_timeout")}

    def accepted(self, index: int, listener, conn, sock: SimSocket, now_ms: int) -> None:
        if conn is None or not listener.listener_filters:
            return
        self.timed_out.setdefault(listener.name, 0)
        ms = timeout_ms(listener)
        deadline = now_ms + ms if ms else None
        self.waiting.append(
            _Waiting(index, listener.name, conn, sock, deadline, listener.continue_on_listener_filters_timeout)
        )

    def check(self, now_ms: int, counters: dict) -> None:
        still = []
        for w in self.waiting:
            if not self._judge(w, now_ms):
                still.append(w)
        self.waiting = still
        for name, n in self.timed_out.items():
            key = f"listener.{name}.downstream_pre_cx_timeout"
            counted = counters.get(key, 0) - self.before.get(key, 0)
            if counted != n:
                raise InvariantViolation(
                    "listener_filters_timeout_counted",
                    f"listener {name}: {n} connection(s) timed out in their listener filters, {key} moved by {counted}",
                    judged=_JUDGED,
                    expected=n,
                    observed=counted,
                )

    def _judge(self, w: _Waiting, now_ms: int) -> bool:
        """Judge `w` as it stands now; True once its listener filters are done with it."""
        info = w.conn.stream_info
        what = f"connection {w.index} to listener {w.listener}"
        if info.get("listener_filters_timeout"):
            self.timed_out[w.listener] += 1
            if w.deadline_ms is None or now_ms < w.deadline_ms:
                raise InvariantViolation(
                    "listener_filters_timed_out_early",
                    f"{what}: its listener filters timed out at or before {now_ms} ms, "
                    + ("but the listener has no timeout" if w.deadline_ms is None else f"deadline {w.deadline_ms} ms"),
                    judged=_JUDGED,
                    expected="no timeout" if w.deadline_ms is None else f"not before {w.deadline_ms} ms",
                    observed=f"timed out by {now_ms} ms",
                )
            chain = info.get("filter_chain")
            if w.continues and "filter_chain" not in info:
                expected, observed = (
                    "chain matching on what the filters found",
                    f"no chain sought, open={w.conn.is_open}",
                )
            elif not w.continues and (w.conn.is_open or chain is not None):
                expected, observed = "closed, no chain", f"open={w.conn.is_open}, chain {chain!r}"
            else:
                return True
            raise InvariantViolation(
                "listener_filters_timeout_outcome",
                f"{what}: its listener filters timed out (continue_on_listener_filters_timeout "
                f"{w.continues}), but {observed}",
                judged=_JUDGED,
                expected=expected,
                observed=observed,
            )
        if "filter_chain" in info or not w.conn.is_open:
            return True  # the filters finished, or the connection closed (peer, reject) before the deadline
        if w.sock.inbound_end and not w.sock.inbound:
            raise InvariantViolation(
                "listener_filters_outlived_their_peer",
                f"{what}: the client ended its stream and the proxy read it all, yet the connection is "
                "still open in its listener filters",
                judged=ListenerFilterStage.on_wire_read,
                expected="closed, or passed to a chain on what the filters found",
                observed="open, no chain chosen",
            )
        if w.deadline_ms is not None and now_ms >= w.deadline_ms:
            raise InvariantViolation(
                "listener_filters_outlived_their_timeout",
                f"{what}: still in its listener filters at {now_ms} ms, deadline {w.deadline_ms} ms",
                judged=_JUDGED,
                expected=f"closed or passed to a chain by {w.deadline_ms} ms",
                observed="open, no chain chosen",
            )
        return False
