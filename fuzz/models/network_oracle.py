"""Model oracles for one network filter, as the network_filter harness drives it.

The harness tells the model about every accepted connection (`accepted`, right after the listener
built it) and calls `check` after every action. The model predicts, per connection:
  - RBAC (network): allowed or denied from its source address and destination port; a denied
    connection is closed at accept and opens no upstream connection (docs/semantics.md: decided
    at accept), an allowed one stays open through its connect action; on the harness's TLS listener
    the decision waits for the handshake (Connected) and takes the verified client certificate
    (principals): a denied connection is closed then, before any byte reaches its upstream;
  - local rate limit (network): a token per connection on virtual time (fuzz.models.ratelimit), one
    bucket per filter chain (each of the harness's listeners has its own);
    a limited connection is closed at accept without an upstream, an allowed one stays open;
  - fault (network): no client byte reaches an upstream before accept + delay_ms, and neither
    direction forwards more than the throttle allows by each check;
  - tcp_proxy: the idle timeout closes a connection neither early nor late (fuzz.models.timeouts);
and the filter's counters moved as predicted, over each action by the decisions made in it (and
not at all without one). Violations are named model_<filter>_<what>.
"""

from proxy.network.connection import Connection, State

from fuzz.oracles import InvariantViolation
from fuzz.tls_peer import speaks_tls

from . import fault, rbac, ratelimit, stats, timeouts
from .http_oracle import RATELIMIT_COUNTERS, RBAC_COUNTERS, peer_certificate

JUDGED_COUNTERS = {"rbac": RBAC_COUNTERS, "local_ratelimit": RATELIMIT_COUNTERS, "fault": ("delays_injected",)}
# The TLS transport's failure counters (proxy/tls/transport.py, Envoy's names).
TLS_FAILURES = ("connection_error", "fail_verify_no_cert", "fail_verify_error", "fail_verify_san")
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
            # One bucket per filter chain (proxy/network/filters/local_ratelimit.py, Envoy's token
            # bucket of the filter's config): the harness's listeners have one chain each, keyed here
            # by the listener's port.
            self.states: dict[int, ratelimit.State] = {}
        # (conn, prediction, what, upstreams before) to check
        self.fresh: list[tuple[Connection, Prediction, str, int]] = []
        self.handshaking: list[tuple[Connection, str]] = []  # RBAC on a TLS chain: decides once Connected
        self.delayed: list[tuple[Connection, int]] = []  # (conn, accepted_ms) under a fault filter
        self.windows: dict[tuple[Connection, str], fault.WindowTally] = {}  # (conn, direction): the throttle's
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
        if self.name == "rbac" and not conn.connected:
            # A TLS chain: the filter decides when Connected is raised (after the handshake), with
            # the client certificate the handshake verified (proxy/network/filters/rbac.py).
            self.handshaking.append((conn, what))
            return
        if self.name == "rbac":
            allowed, counters, names, policy = self._rbac(conn, what)
            expected = (allowed, counters, names)
            what += f", policy {policy}"
        elif self.name == "local_ratelimit":
            state = self.states.get(port)
            if state is None:
                state = self.states[port] = ratelimit.start(self.bucket)
            ok = ratelimit.take(self.bucket, state, now)
            expected = (ok, {"allowed": 1} if ok else {"rate_limited": 1}, RATELIMIT_COUNTERS)
            what += f", {self.bucket}"
        elif self.name == "tcp_proxy":
            self.idle[conn] = [0, 0, now, now, None, True]
            return
        else:
            self.delayed.append((conn, now))
            moved = {"delays_injected": 1} if self.config.delay_ms else {}
            expected = (True, moved, JUDGED_COUNTERS["fault"])
        self.fresh.append((conn, expected, what, self.upstreams))

    def _rbac(self, conn, what: str) -> tuple[bool, dict[str, int], tuple[str, ...], str | None]:
        """(allowed, counters moved, counters judged, policy) of the RBAC model for `conn`."""
        source = (getattr(conn, "direct_remote_address", None) or conn.remote_address)[0]
        subject = rbac.Subject(source, conn.local_address[1], None, peer_certificate(conn))
        verdict = rbac.decide(self.engine, self.config.shadow, subject)
        return verdict.allowed, dict(verdict.counters), RBAC_COUNTERS, verdict.policy

    def check(self, opened_upstreams: int) -> None:
        """After an action: the connections accepted during it, the TLS ones whose handshake ended
        in it, the fault bounds of all so far."""
        if not self.active:
            return
        fresh, self.fresh = self.fresh, []
        self.upstreams = opened_upstreams  # (the fresh entries hold their own snapshots)
        decided = [(what, moved, names) for _, (_, moved, names), what, _ in fresh]
        for conn, (allowed, _, _), what, upstreams in fresh:
            if allowed and self._closed_by_its_handshake(conn):
                continue  # allowed, then its TLS handshake failed in the same action: not the filter's close
            self._check_accept(conn, allowed, what, opened_upstreams - upstreams)
        for conn, what in list(self.handshaking):
            if conn.connected:
                self.handshaking.remove((conn, what))
                allowed, counters, names, policy = self._rbac(conn, what)
                what += f", handshake done at {self.clock()} ms, peer {peer_certificate(conn)}, policy {policy}"
                self._check_decided_after_handshake(conn, allowed, what)
                decided.append((what, counters, names))
            elif not conn.is_open:  # closed before its handshake ended: never decided
                self.handshaking.remove((conn, what))
        # The modelled counters move only when a filter decides: over this action, by what the
        # decisions made in it predict together (an action may end several TLS handshakes).
        moved: dict[str, int] = {}
        for _, each, _ in decided:
            for key, n in each.items():
                moved[key] = moved.get(key, 0) + n
        if decided or self.name != "tcp_proxy":
            names = decided[0][2] if decided else JUDGED_COUNTERS[self.name]
            problems = stats.counter_moves(self.before, self.counters, self.name, names, moved)
            if problems:
                whats = "; ".join(what for what, _, _ in decided) or "no connection decided in this action"
                raise InvariantViolation(
                    f"model_{self.name}_counters",
                    "; ".join(problems) + f" ({whats})",
                    expected=moved,
                    observed=problems,
                )
        self.before = dict(self.counters)
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
            # Behind TLS the peers count plaintext and the proxy reads records: when the proxy last
            # saw a byte is not known here, so such a connection's close may be an idle timeout and
            # it is never judged late.
            tls = speaks_tls(conn)
            if state[5] and conn.state is State.CLOSED:  # (a closing one may still be closed by the timer)
                state[5] = False
                eligible += tls or max(state[2], state[3]) + idle_ms <= now
            elif (
                not tls
                and conn.is_open
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

    def _closed_by_its_handshake(self, conn) -> bool:
        """A TLS connection closed before its handshake ended, in an action where a TLS handshake
        failed (a certificate the context refuses, a client that left): the action may run the
        dispatcher far enough (an upstream connect completing at once) for the handshake to end
        before the check."""
        failed = any(
            ".ssl." in key and key.rsplit(".", 1)[1] in TLS_FAILURES and n > self.before.get(key, 0)
            for key, n in self.counters.items()
        )
        return conn.transport_socket is not None and not conn.connected and not conn.is_open and failed

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

    def _check_decided_after_handshake(self, conn, allowed: bool, what: str) -> None:
        """A TLS connection RBAC denies is closed as Connected is raised, before any byte reaches
        the filters after it: its upstream (tcp_proxy connects at accept) gets nothing. One it allows
        is not closed by RBAC (other causes may close it in the same action: not judged)."""
        if allowed:
            return
        upstream = conn.stream_info.get("upstream_connection")
        forwarded = _forwarded(upstream) if upstream is not None else 0
        if conn.is_open or forwarded:
            observed = f"open={conn.is_open}, {forwarded} bytes forwarded upstream"
            raise InvariantViolation(
                "model_rbac_decision",
                f"{what}: denied, but {observed}",
                expected="closed when Connected, nothing forwarded",
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
        rate = self.config.throttle_bytes_per_sec
        for direction, moved in (("downstream->upstream", sent_up), ("upstream->downstream", _forwarded(conn))):
            if moved > allowance:  # bootstrap.proto: "in each direction"
                raise InvariantViolation(
                    "model_fault_throttle",
                    f"{direction}: {moved} bytes forwarded by {now} ms, accepted at {accepted} "
                    f"ms, {rate} bytes/s allow {allowance}",
                    expected=f"<= {allowance}",
                    observed=moved,
                )
            if speaks_tls(conn):
                # Behind TLS the windows start at the handshake's end, not the accept, and bytes the
                # transport has encrypted that the client has not read are seen late (in a later
                # second): only the total above is certain there.
                continue
            tally = self.windows.setdefault((conn, direction), fault.WindowTally())
            carried = fault.window_carried(self.config, tally, accepted, now, moved)
            if carried > rate:  # "per second": quiet seconds are not saved up
                raise InvariantViolation(
                    "model_fault_throttle_window",
                    f"{direction}: at least {carried} bytes forwarded in second {tally.window} after the "
                    f"accept at {accepted} ms (by {now} ms, {moved} in all), {rate} bytes/s",
                    expected=f"<= {rate} in each second",
                    observed=carried,
                )
