"""Model oracles for one network filter, as the network_filter harness drives it.

The harness tells the model about every accepted connection (`accepted`, right after the listener
built it) and calls `check` after every action. The model predicts, per connection:
  - RBAC (network): allowed or denied from its source address and destination port; a denied
    connection is closed at accept and opens no upstream connection (docs/semantics.md: decided
    at accept), an allowed one stays open through its connect action;
  - local rate limit (network): a token per connection on virtual time (fuzz.models.ratelimit);
    a limited connection is closed at accept without an upstream, an allowed one stays open;
  - fault (network): no client byte reaches an upstream before accept + delay_ms, and neither
    direction forwards more than the throttle allows by each check;
  - tcp_proxy: the idle timeout closes a connection neither early nor late (fuzz.models.timeouts);
and the filter's counters moved as predicted. Violations are named model_<filter>_<what>.
"""

from proxy.network.connection import Connection

from fuzz.oracles import InvariantViolation

from . import fault, rbac, ratelimit, stats, timeouts
from .http_oracle import RATELIMIT_COUNTERS, RBAC_COUNTERS, peer_certificate

# What the model predicts for a new connection: (allowed, counters moved, the counters judged).
Prediction = tuple[bool, dict[str, int], tuple[str, ...]]


def _forwarded(conn) -> int:
    """Bytes the proxy has written to `conn`: what its peer read plus what waits in its write buffer."""
    return len(conn.io.received) + len(conn.write_buffer)


def ports(name: str, config) -> tuple:
    """Destination ports worth connecting to: those RBAC policies name."""
    if name != "rbac":
        return ()
    return tuple(sorted({p for policy in config.policies for p in policy.destination_ports}))


def sources(name: str, config, defaults) -> tuple:
    """Source addresses worth connecting from: the defaults, then RBAC policies' prefix edges."""
    if name != "rbac":
        return defaults
    edges = rbac.boundary_addresses(p for policy in config.policies for p in policy.source_prefixes)
    return tuple(defaults) + tuple(e for e in edges if e not in defaults)


class NetworkFilterModel:
    def __init__(self, name: str, config, clock, counters: dict) -> None:
        self.name, self.config, self.clock, self.counters = name, config, clock, counters
        self.active = name in ("rbac", "local_ratelimit", "fault") or (name == "tcp_proxy" and config.idle_timeout_ms)
        # tcp_proxy: conn -> [reads, flushes, last read ms, last flush ms, connected ms or None, open]
        self.idle: dict[Connection, list] = {}
        self.idle_fired = 0  # tcp_proxy.idle_timeout as of the last check
        if name == "rbac":
            self.engine = rbac.from_network(config)
        elif name == "local_ratelimit":
            self.bucket = ratelimit.Bucket.of(config)
            self.state = ratelimit.start(self.bucket)
        # (conn, prediction, what, counters before, upstreams before) to check
        self.fresh: list[tuple[Connection, Prediction, str, dict[str, int], int]] = []
        self.delayed: list[tuple[Connection, int]] = []  # (conn, accepted_ms) under a fault filter
        self.before, self.upstreams = dict(counters), 0  # as of the last check

    # -- events ----------------------------------------------------------------------------------
    def accepted(self, conn) -> None:
        """A connection the listener just built (the harness's on_connection)."""
        if not self.active:
            return
        now = self.clock()
        source = (getattr(conn, "direct_remote_address", None) or conn.remote_address)[0]
        port = conn.local_address[1]
        what = f"connection from {source} to port {port} at {now} ms"
        expected: Prediction
        if self.name == "rbac":
            verdict = rbac.decide(
                self.engine, self.config.shadow, rbac.Subject(source, port, None, peer_certificate(conn))
            )
            expected = (verdict.allowed, dict(verdict.counters), RBAC_COUNTERS)
            what += f", policy {verdict.policy}"
        elif self.name == "local_ratelimit":
            ok = ratelimit.take(self.bucket, self.state, now)
            expected = (ok, {"allowed": 1} if ok else {"rate_limited": 1}, RATELIMIT_COUNTERS)
            what += f", {self.bucket}"
        elif self.name == "tcp_proxy":
            self.idle[conn] = [0, 0, now, now, None, True]
            return
        else:
            self.delayed.append((conn, now))
            moved = {"delays_injected": 1} if self.config.delay_ms else {}
            expected = (True, moved, ("delays_injected",))
        self.fresh.append((conn, expected, what, self.before, self.upstreams))

    def check(self, opened_upstreams: int) -> None:
        """After an action: the connections accepted during it, the fault bounds of all so far."""
        if not self.active:
            return
        fresh, self.fresh = self.fresh, []
        self.upstreams = opened_upstreams  # (the fresh entries hold their own snapshots)
        if fresh:  # modelled counters move only at accepts: a snapshot after the last one will do
            self.before = dict(self.counters)
        for conn, (allowed, moved, names), what, before, upstreams in fresh:
            self._check_accept(conn, allowed, what, opened_upstreams - upstreams)
            problems = stats.counter_moves(before, self.counters, self.name, names, moved)
            if problems:
                raise InvariantViolation(
                    f"model_{self.name}_counters", "; ".join(problems) + f" ({what})", expected=moved, observed=problems
                )
        for conn, accepted in self.delayed:
            self._check_fault(conn, accepted)
        if self.idle:
            self._check_idle()

    def _check_idle(self) -> None:
        now, idle_ms = self.clock(), self.config.idle_timeout_ms
        total = self.counters.get("tcp_proxy.idle_timeout", 0)
        fired, self.idle_fired = total - self.idle_fired, total
        eligible, late = 0, None
        for conn, state in self.idle.items():
            upstream = conn.stream_info.get("upstream_connection")
            sides = (conn,) if upstream is None else (conn, upstream)
            read, flushed = sum(map(timeouts.reads, sides)), sum(map(timeouts.flushes, sides))
            if read != state[0]:
                state[0], state[2] = read, now
            if flushed != state[1]:
                state[1], state[3] = flushed, now
            if state[4] is None and upstream is not None and upstream.connected:
                state[4] = now
            if state[5] and not conn.is_open:
                state[5] = False
                eligible += max(state[2], state[3]) + idle_ms <= now
            elif (
                conn.is_open
                and state[4] is not None
                and upstream is not None
                and upstream.is_open
                and all(map(timeouts.quiet, sides))
            ):
                deadline = timeouts.late_deadline(idle_ms, state[4], state[2], state[3])
                if deadline <= now:
                    late = (conn, deadline)
        if fired > eligible:
            raise InvariantViolation(
                "model_tcp_proxy_idle_early",
                f"{fired} idle timeout(s) at {now} ms, but only "
                f"{eligible} closed connection(s) were idle for {idle_ms} ms",
                expected=f"<= {eligible}",
                observed=fired,
            )
        if late is not None:
            raise InvariantViolation(
                "model_tcp_proxy_idle_not_fired",
                f"{late[0]!r} quiet, idle_timeout_ms {idle_ms}: due by {late[1]} ms, still open at {now} ms",
                expected=f"closed by {late[1]} ms",
                observed="open",
            )

    def _check_accept(self, conn, allowed: bool, what: str, new_upstreams: int) -> None:
        if self.name == "fault":
            return
        if allowed and not conn.is_open:
            raise InvariantViolation(
                f"model_{self.name}_decision",
                f"{what}: allowed, but closed at accept",
                expected="open",
                observed="closed",
            )
        if not allowed and (conn.is_open or new_upstreams):
            observed = f"open={conn.is_open}, {new_upstreams} upstream connection(s) opened"
            raise InvariantViolation(
                f"model_{self.name}_decision",
                f"{what}: {'denied' if self.name == 'rbac' else 'rate limited'}, but {observed}",
                expected="closed at accept, no upstream",
                observed=observed,
            )

    def _check_fault(self, conn, accepted: int) -> None:
        upstream = conn.stream_info.get("upstream_connection")
        if upstream is None:
            return
        now = self.clock()
        sent_up = _forwarded(upstream)
        release = fault.network_release_ms(self.config, accepted)
        if now < release and sent_up:
            raise InvariantViolation(
                "model_fault_delay",
                f"{sent_up} bytes reached the upstream at {now} ms, "
                f"accepted at {accepted} ms with delay_ms {self.config.delay_ms}",
                expected=f"nothing before {release} ms",
                observed=f"{sent_up} bytes",
            )
        allowance = fault.throttle_allowance(self.config, accepted, now)
        if allowance is None:
            return
        for direction, moved in (("downstream->upstream", sent_up), ("upstream->downstream", _forwarded(conn))):
            if moved > allowance:  # bootstrap.proto: "in each direction"
                raise InvariantViolation(
                    "model_fault_throttle",
                    f"{direction}: {moved} bytes forwarded by {now} ms, accepted at {accepted} "
                    f"ms, {self.config.throttle_bytes_per_sec} bytes/s allow {allowance}",
                    expected=f"<= {allowance}",
                    observed=moved,
                )
