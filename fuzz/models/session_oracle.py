"""Model oracles for whole sessions (fuzz/session.py): the models applied to what the peers saw.

Per connection (`accepted`, right after the listener built it; judged at the next `check`):
  - the filter chain it got is the one fuzz.models.chains selects (model_filter_chain_match);
  - walking its network filters in order until one stops it: RBAC (fuzz.models.rbac) and the local
    rate limit bucket of that filter (fuzz.models.ratelimit) decide at accept; a connection the
    models refuse is closed at accept without an upstream connection (model_<filter>_decision), and
    the rbac / local_ratelimit counters move exactly as the models say for that connect action
    (model_<filter>_counters). A fault delay ends the walk (the filters after it start later).
Per request, at the end of the session (fuzz.peers' records, `finish`), for connections whose chain
ends in an HTTP connection manager: the request as the client sent it is walked through the HTTP
filters (RBAC decides; rate limit and fault abort may or may not fire; header mutations edit it)
and the route table (fuzz.models.routing: every answer any draw could give). Then
  - a request an upstream saw must have a branch that forwards it to that upstream's cluster
    (model_route_session: wrong cluster, or forwarded although RBAC denies, a direct response or
    no route applies);
  - a local reply (no upstream saw the request) of 403, 404, 429 or a 1xx-3xx status must have a
    branch that produces it, with the direct response's body (model_local_reply_session); any other
    4xx/5xx local reply is a status some branch gives or one of the failures the proxy answers on
    its own, whose documented cause happened in the session (fuzz.models.local_errors: a 505 needs a
    request line version other than 1.0 and 1.1, a 504 a route or request timeout that could have run
    out, a 431 a head that large, ...; model_local_error_cause), and a 503 for a request the
    models forward has an upstream failure to explain it: a connection to the route's hosts opened,
    or a breaker overflowed (model_upstream_failure_unexplained); a HEAD
    answered so declares the length of that body, if any (model_local_reply_head_length);
  - the response counters a user reads (downstream_rq_<code>, _<N>xx, cluster upstream_rq_<code>)
    agree with the responses the peers saw (fuzz.models.response_counters: model_stats_*);
  - a request an upstream saw got there no earlier than its fault filters' delays after the client
    sent it (model_fault_delay_session);
  - no upstream response begun after every route timeout that could apply ran out reaches the
    client (model_route_timeout_late);
  - an HTTP/1.1 request the proxy had read whole gets no 408 the stream idle timeout cannot explain
    (model_408_for_a_complete_request, fuzz.models.timeouts);
  - a request that reached an upstream gets no 504 of the proxy's before a route timeout or
    request_timeout_ms could have run out (model_gateway_timeout_unexplained, fuzz.models.timeouts);
  - a request failed by connect failures made the attempts its retry policy allows
    (model_retry_attempts, fuzz.models.retry);
  - every final response head a client read is in its connection manager's access log with that
    status (model_access_log_status, fuzz.models.access_log), every record names a client that
    is some downstream connection's remote address, after the PROXY protocol (model_access_log_client),
    and the body sizes of forwarded exchanges the peers saw whole are the logged ones
    (model_access_log_body_size), their records flagging no failure (model_access_log_flags); each
    flag of a record has its documented cause before the record (UF a failed connect, UO a breaker
    the session could fill, UR an upstream that spoke or ended, UT a route timeout that short, ...:
    model_access_log_flag_cause, fuzz.models.flag_causes), and a 503 after connect failures is
    flagged UF (model_access_log_connect_failure_unflagged); a client that opened with the HTTP/2
    preface on a connection manager speaking HTTP/2 got a SETTINGS frame first (h2_server_preface,
    fuzz.models.server_preface).
Per connection to a listener with listener filters, at every check: they finish or time out as
Envoy's listener_filters_timeout says, counted in downstream_pre_cx_timeout (fuzz.models.listener_timeout).
Per cluster, at the end: a ROUND_ROBIN cluster's new connections go to its hosts in turn
(model_round_robin_order, fuzz.models.lb); the clusters' upstream_rq_timeout counts the access log's
UT records (model_upstream_rq_timeout, fuzz.models.stats); tcp_proxy's counters agree with the upstream connections
and bytes the peers saw (model_tcp_proxy_counters, fuzz.models.tcp_proxy_stats). Per listener: downstream_cx_total counts the connections
its clients opened (model_listener_cx_total, fuzz.models.stats).
"""

from collections import Counter
from typing import Any, NamedTuple

from proxy.config import schema
from proxy.http.filters.router import Router
from proxy.network.connection import Connection

from fuzz.field_lists import connection_options
from fuzz.oracles import InvariantViolation
from fuzz.tls_peer import speaks_tls
from fuzz.targets.route_reference import Request

from fuzz.delivery import flood_defended
from fuzz.peers.log import http_codec, protocol_bytes

from fuzz.peers.upstream import cluster_of

from . import access_log, chains, lb, paths, rbac, ratelimit, response_counters, retry, routing, server_preface
from . import (
    chain_refusal,
    flag_causes,
    flag_counters,
    listener_timeout,
    local_errors,
    stats,
    tcp_proxy_stats,
    timeouts,
)
from .config_walk import connection_managers
from .http_oracle import peer_certificate

_BOOTSTRAPS: dict = {}
NETWORK_FAMILIES = {
    "rbac": ("allowed", "denied", "shadow_allowed", "shadow_denied"),
    "local_ratelimit": ("allowed", "rate_limited"),
}


def bootstrap_of(built):
    """The Bootstrap message a BuiltConfig was built from (parsed once per built configuration)."""
    boot = _BOOTSTRAPS.get(id(built))
    if boot is None or boot[0] is not built:
        msg = schema.Bootstrap()
        msg.ParseFromString(built.source)
        boot = _BOOTSTRAPS[id(built)] = (built, msg)
        if len(_BOOTSTRAPS) > 512:
            _BOOTSTRAPS.pop(next(iter(_BOOTSTRAPS)))
    return boot[1]


_EDGES: dict = {}
_CHAINS_CHECKED: dict = {}  # (id(built), listener, local, remote, server name) -> (built, model's chains)


def edge_sources(built, defaults) -> tuple:
    """Source addresses worth connecting from: `defaults`, then the edges of every source prefix the
    configuration decides on (RBAC policies, network and HTTP; filter chain matches; direct source
    ranges and the default chain's policies last)."""
    hit = _EDGES.get(id(built))
    if hit is None or hit[0] is not built or hit[1] != tuple(defaults):
        if len(_EDGES) > 512:
            _EDGES.clear()
        hit = _EDGES[id(built)] = (built, tuple(defaults), _edge_sources(built, defaults))
    return hit[2]


def _edge_sources(built, defaults) -> tuple:
    boot = bootstrap_of(built)
    prefixes, later = [], []
    for listener in boot.listeners:
        for chain in listener.filter_chains:
            prefixes += [*chain.filter_chain_match.source_prefix_ranges, *_policy_prefixes(chain)]
            later += chain.filter_chain_match.direct_source_prefix_ranges
        if listener.HasField("default_filter_chain"):
            later += _policy_prefixes(listener.default_filter_chain)
    edges = rbac.boundary_addresses(prefixes)
    # Direct source ranges (the peer's own address: a connection without a PROXY header) and the
    # default chain's policies decide too. Their edges come last, so that the sources seeds
    # written before them connect from keep their places.
    edges += tuple(e for e in rbac.boundary_addresses(later) if e not in edges)
    return tuple(defaults) + tuple(e for e in edges if e not in defaults)


def _policy_prefixes(chain) -> list:
    """The source ranges of a chain's RBAC policies, network and HTTP."""
    out = []
    for f in chain.filters:
        kind = f.WhichOneof("filter")
        policies = list(getattr(f, kind).policies) if kind == "rbac" else []
        if kind == "http_connection_manager":
            policies = [
                p
                for h in f.http_connection_manager.http_filters
                if h.WhichOneof("filter") == "rbac"
                for p in h.rbac.policies
            ]
        out += [text for p in policies for text in p.source_prefixes]
    return out


_TARGETS: dict = {}


class RouteTargets(NamedTuple):
    """What templated requests ask for (fuzz/payloads.py): `targets` as (path, header fields, hosts
    of the route's virtual host), `hosts`, and `instead` (use them in place of the fixed tables)."""

    targets: tuple
    hosts: tuple
    instead: bool
    boot: Any = None  # the configuration (a Bootstrap message), for for_connection
    # (listener index, chain index or "default") -> RouteTargets of its HCM; listener index -> those
    # of all the listener's HCMs
    by_chain: dict | None = None

    def for_connection(self, facts) -> "RouteTargets | None":
        """The targets of the HTTP connection manager a connection reaches, where its facts (listener
        index, local and remote address, server name: fuzz.session's sock.fuzz_connect) decide the
        chain (no listener filter); else those of its listener's route tables; else (no route table
        there: a tcp_proxy chain, whose bytes are relayed whatever they ask) the configuration's."""
        if facts is None or self.boot is None or self.by_chain is None:
            return self
        li, local, remote, server_name = facts
        chain = _chain_of(self.boot.listeners[li], local, remote, server_name)
        return self.by_chain.get((li, chain) if chain is not None else li) or self


def _chain_of(listener, local, remote, server_name):
    if listener.listener_filters or not chains.understood(listener):
        return None  # listener filters choose later, from the bytes
    picked = chains.default_chain(
        listener,
        chains.select(listener, local[1], server_name, remote[0], destination_ip=local[0], source_port=remote[1]),
    )
    return picked[0] if len(picked) == 1 else None


def route_targets(built, fixed_paths, fixed_hosts):
    """RouteTargets the session's templated requests may pick from, or None: those of the
    configuration's route tables (fuzz.models.routing.request_targets); `instead` when fewer than half
    of the fixed paths and hosts reach a cluster in its HTTP connection managers, so the templates use
    these in place of their fixed tables. Generated configurations name their own domains and
    prefixes: requests from the fixed tables mostly got a 404 and never reached an upstream, so
    everything past the router was tested on the hand-written examples alone. Where the fixed tables
    do reach the routes, a template may still add the fields a route matches on. Per connection
    (RouteTargets.for_connection), only the route table of the chain it reaches, where known."""
    hit = _TARGETS.get(id(built))
    if hit is None or hit[0] is not built:
        if len(_TARGETS) > 512:
            _TARGETS.clear()
        hit = _TARGETS[id(built)] = (built, _route_targets(built, fixed_paths, fixed_hosts))
    return hit[1]


# Below this share of fixed (path, host) pairs reaching a cluster, templates ask for the routes' own.
FIXED_REACH_ENOUGH = 0.5


def _targets_of(configs, fixed_paths, fixed_hosts, boot=None, by_chain=None):
    hosts, targets = routing.request_targets(configs)
    if not hosts or not targets:
        return None
    instead = routing.fixed_reach(configs, fixed_paths, fixed_hosts) < FIXED_REACH_ENOUGH
    return RouteTargets(targets, hosts, instead, boot, by_chain)


def _route_targets(built, fixed_paths, fixed_hosts):
    boot = bootstrap_of(built)
    by_chain: dict = {}
    configs = []
    for li, listener in enumerate(boot.listeners):
        chains_of = [*enumerate(listener.filter_chains)] + [("default", listener.default_filter_chain)]
        mine = []
        for ci, chain in chains_of:
            for f in chain.filters:
                if f.WhichOneof("filter") == "http_connection_manager":
                    rc = f.http_connection_manager.route_config
                    mine.append(rc)
                    by_chain[(li, ci)] = _targets_of([rc], fixed_paths, fixed_hosts)
        by_chain[li] = _targets_of(mine, fixed_paths, fixed_hosts)
        configs += mine
    return _targets_of(configs, fixed_paths, fixed_hosts, boot, by_chain)


def _counter_names(family: str, stat_prefix: str, name: str) -> list:
    """docs/semantics.md: a network filter counts `<family>.<name>` and `<family>.<stat_prefix>.<name>`."""
    return [f"{family}.{name}"] + ([f"{family}.{stat_prefix}.{name}"] if stat_prefix else [])


class SessionModel:
    def __init__(self, session) -> None:
        self.session = session
        self.boot = bootstrap_of(session.built)
        self.buckets: dict = {}  # (listener, chain, filter index) -> (Bucket, State)
        self.hcm: dict = {}  # downstream index -> HttpConnectionManager message
        # (conn, refused_by, what, counters moved, counters before, upstreams before)
        self.fresh: list[tuple[Connection, str | None, str, dict[str, int], dict[str, int], int]] = []
        self.before, self.upstreams = dict(session.ctx.stats.counters), 0
        self.access_log = access_log.StatusLog()  # in place of fuzz.session's counting sink
        # Each record also with the upstreams as they were when it was written (its flags' causes).
        self.flagged = flag_causes.Recorder(self.access_log, self._upstreams_now)
        session.ctx.open_access_log = lambda spec: self.flagged
        self.connects: dict[str, int] = {}  # listener name -> connections its clients opened
        self.listener_timeouts = listener_timeout.ListenerTimeouts(session.ctx.stats.counters)
        self.refusals = chain_refusal.ChainRefusals(session.ctx.stats.counters)

    # -- connections -------------------------------------------------------------------------------
    def accepted(self, index: int, listener, local, remote, server_name: str, conn) -> None:
        built = self.session.built
        li = built.listeners.index(listener)
        msg = self.boot.listeners[li]
        self.connects[msg.name] = self.connects.get(msg.name, 0) + 1
        self.listener_timeouts.accepted(
            index, msg, conn, self.session.downstream[index], self.session.dispatcher.now_ms()
        )
        if not chains.understood(msg) or msg.listener_filters:
            return  # listener filters choose later, from the bytes (fuzz/tls_session.py judges those)
        what = f"connection {index} to listener {msg.name} port {local[1]} from {remote[0]} sni {server_name!r}"
        key = (id(built), li, tuple(local), tuple(remote), server_name)
        checked = _CHAINS_CHECKED.get(key)
        if checked is None or checked[0] is not built:
            # Both selections are pure functions of the connection's facts: judged once per facts.
            want = chains.default_chain(
                msg,
                chains.select(msg, local[1], server_name, remote[0], destination_ip=local[0], source_port=remote[1]),
            )
            picked = listener.select_filter_chain(local, remote, server_name)
            got = (
                ()
                if picked is None
                else (
                    ("default",) if picked is listener.default_filter_chain else (listener.filter_chains.index(picked),)
                )
            )
            if len(want) <= 1 and want != got:
                raise InvariantViolation(
                    "model_filter_chain_match",
                    f"{what}: chain {list(want)} expected, {list(got)} chosen",
                    judged=type(listener).select_filter_chain,
                    expected=list(want),
                    observed=list(got),
                )
            if len(_CHAINS_CHECKED) > 8192:
                _CHAINS_CHECKED.clear()
            checked = _CHAINS_CHECKED[key] = (built, want)
        want = checked[1]
        self.refusals.accepted(msg.name, what, want, conn, type(listener).create_connection)
        if conn is None or len(want) != 1 or want == ("default",):
            return
        ci = want[0]
        if msg.filter_chains[ci].HasField("tls_context"):
            # Network filters decide after the TLS handshake, not at accept (not judged here); the
            # requests that arrive over it are judged as on any chain (RBAC principals need it).
            for f in msg.filter_chains[ci].filters:
                if f.WhichOneof("filter") == "fault" and f.fault.delay_ms:
                    break
                if f.WhichOneof("filter") == "http_connection_manager":
                    self.hcm[index] = f.http_connection_manager
            return
        moved: dict[str, int] = {}
        refused_by: str | None = None
        for fi, f in enumerate(msg.filter_chains[ci].filters):
            kind = f.WhichOneof("filter")
            cfg = getattr(f, kind)
            if kind == "rbac":
                verdict = rbac.decide(rbac.from_network(cfg), cfg.shadow, rbac.Subject(remote[0], local[1]))
                self._count(moved, "rbac", cfg.stat_prefix, verdict.counters[0][0])
                if not verdict.allowed:
                    refused_by = f"rbac (policy {verdict.policy})"
            elif kind == "local_ratelimit":
                bucket, state = self.buckets.setdefault((li, ci, fi), (ratelimit.Bucket.of(cfg), None))
                if state is None:
                    state = ratelimit.start(bucket)
                    self.buckets[(li, ci, fi)] = (bucket, state)
                ok = ratelimit.take(bucket, state, self.session.dispatcher.now_ms())
                self._count(moved, "local_ratelimit", cfg.stat_prefix, "allowed" if ok else "rate_limited")
                if not ok:
                    refused_by = f"local_ratelimit ({bucket})"
            elif kind == "fault" and cfg.delay_ms:
                break
            elif kind == "http_connection_manager":
                self.hcm[index] = cfg
            if refused_by:
                break
        self.fresh.append((conn, refused_by, what, moved, self.before, self.upstreams))

    @staticmethod
    def _count(moved: dict, family: str, stat_prefix: str, name: str) -> None:
        for key in _counter_names(family, stat_prefix, name):
            moved[key] = moved.get(key, 0) + 1

    def check(self) -> None:
        fresh, self.fresh = self.fresh, []
        opened = len(self.session.network.opened)
        counters = self.session.ctx.stats.counters
        self.listener_timeouts.check(self.session.dispatcher.now_ms(), counters)
        for conn, refused_by, what, moved, before, upstreams in fresh:
            if refused_by and (conn.is_open or opened > upstreams):
                observed = f"open={conn.is_open}, {opened - upstreams} upstream connection(s) opened"
                raise InvariantViolation(
                    f"model_{refused_by.split()[0]}_decision",
                    f"{what}: refused by {refused_by}, but {observed}",
                    expected="closed at accept, no upstream",
                    observed=observed,
                )
            for family, names in NETWORK_FAMILIES.items():
                keys = {k for k in stats.family_counters(counters, family, names) if not k.startswith("http.")}
                wrong = [
                    f"{k} moved by {counters.get(k, 0) - before.get(k, 0)}, expected {moved.get(k, 0)}"
                    for k in sorted(keys | {k for k in moved if k.startswith(family + ".")})
                    if counters.get(k, 0) - before.get(k, 0) != moved.get(k, 0)
                ]
                if wrong:
                    raise InvariantViolation(
                        f"model_{family}_counters", "; ".join(wrong) + f" ({what})", expected=moved, observed=wrong
                    )
        self.upstreams = opened
        # Counters that moved without a fresh connection (a filter after a fault delay deciding
        # later) are not judged here, and not charged to the next connection either.
        self.before = dict(counters)

    # -- requests ----------------------------------------------------------------------------------
    def finish(self, exchanges) -> None:
        self.begun = begun_no_earlier(exchanges)
        self.connect_failed: Counter = Counter()  # (client, method) -> local 503s after connect failures
        for ex in exchanges:
            hcm = self.hcm.get(ex.downstream)
            if hcm is None or not ex.request.complete or not ex.request.target.startswith(b"/"):
                continue
            sock = self.session.downstream[ex.downstream]
            source = sock.conn.remote_address[0] if sock.conn is not None else None
            if source is None or getattr(sock, "reads_altered", False):
                continue  # a harness's write probe dropped some of what the proxy wrote: not its answer
            self._judge(ex, hcm, source, peer_certificate(sock.conn))
        counters = self.session.ctx.stats.counters
        response_counters.check_downstream(counters, exchanges)
        peers = self.session.peers
        response_counters.check_upstream(counters, exchanges, peers.servers, self.session.network.opened, cluster_of)
        logged = lambda d: self.hcm.get(d) is not None and self.hcm[d].HasField("access_log")  # noqa: E731
        access_log.check(self.access_log, access_log.heads_read(exchanges, logged))
        remotes = (s.conn.remote_address for s in self.session.downstream if s.conn is not None)
        access_log.check_clients(self.access_log, (r for r in remotes if r))
        access_log.check_body_sizes(self.access_log, access_log.body_sizes_known(exchanges, logged, self._client_of))
        access_log.check_flags(self.access_log, access_log.forwarded_whole(exchanges, logged, self._client_of))
        access_log.check_client_blamed(self.access_log, self._clients_that_stayed(exchanges, logged))
        requests = max(len(exchanges), counters.get("http.downstream_rq_total", 0))  # raw bytes may hold more
        flag_causes.check(self.flagged.records, self.boot, requests)
        flag_causes.check_connect_failures_flagged(self.flagged.records, self.connect_failed)
        server_preface.check(
            (i, http_codec(s), protocol_bytes(s, len(server_preface.CLIENT_PREFACE)), bytes(s.received[:9]))
            for i, s in enumerate(self.session.downstream)
            if s.conn is not None and not getattr(s, "reads_altered", False)  # a write probe cut what it read
        )
        lb.check_round_robin(bootstrap_of(self.session.built), (c.remote_address for c in self.session.network.opened))
        network = self.session.network
        tcp_proxy_stats.check(
            counters,
            self.session.tcp_upstreams(),
            lambda conn: network.times[conn].failed_to_connect,
            lambda conn: not speaks_tls(conn),
        )
        stats.check_listener_connections(self.session.ctx.stats.counters, self.connects)
        flag_counters.check(counters, self.access_log.flagged, _every_manager_logs(self.boot))

    def _upstreams_now(self) -> tuple:
        """fuzz.models.flag_causes.Upstream for each upstream connection, as things stand."""
        times = self.session.network.times
        return tuple(
            flag_causes.Upstream(
                endpoint=tuple(conn.remote_address),
                failed_to_connect=times[conn].failed_to_connect,
                closed=times[conn].closed_ms is not None,
                spoke=bool(conn.io.sent or getattr(conn.io, "wire_sent", b"")),
                ended=conn.io.inbound_end or getattr(conn.io, "reset_sent", False),
            )
            for conn in self.session.network.opened
        )

    def _clients_that_stayed(self, exchanges, logged) -> dict:
        """The clients of logging connection managers that did nothing to end a stream of theirs: no
        close, reset or half-close of the connection, no RST_STREAM or GOAWAY, no bytes their own
        parser did not understand (raw bytes may hold any of those), and no flood the proxy ended
        their connection for (Envoy's connection close flags the streams still open DC); each with
        its HTTP/1.1 exchanges queued behind one the proxy cut short (the close that cut ends them
        too, caught open: DC, as Envoy flags the streams its connection close catches)."""
        left = {ex.downstream for ex in exchanges if ex.reset_reason == "client reset"}
        cut: set = set()
        behind: Counter = Counter()
        for ex in exchanges:
            behind[ex.downstream] += ex.downstream in cut
            if ex.protocol == "HTTP/1.1" and ex.outcome in ("reset", "closed"):
                cut.add(ex.downstream)
        stayed = {}
        for index, sock in enumerate(self.session.downstream):
            peer = self.session.peers.clients[index]
            client = self._client_of(index)
            if peer is None or client is None or not logged(index) or index in left or sock.inbound_end:
                continue
            if getattr(sock.conn.close_event, "name", "") == "REMOTE_CLOSE" or not peer.understood:
                continue
            if getattr(peer, "tainted", False) or getattr(peer, "goaway_sent", None) is not None:
                continue
            if flood_defended(self.session, index):
                continue
            stayed[client] = behind[index]
        return stayed

    def _client_of(self, index: int):
        """The client a downstream connection's access log records name, or None where the harness's
        write probe altered what the client read."""
        sock = self.session.downstream[index]
        if sock.conn is None or not sock.conn.remote_address or getattr(sock, "reads_altered", False):
            return None
        host, port = sock.conn.remote_address[:2]
        return (str(host), int(port))

    def _judge(self, ex, hcm, source: str, peer=None) -> None:
        text = lambda b: b.decode("latin-1")  # noqa: E731
        req = ex.request
        authority = req.authority or req.header(b"host") or b""
        request = Request(
            text(req.method),
            text(authority),
            text(req.target),
            tuple((text(n), text(v)) for n, v in req.headers if n != b"host"),
            text(req.scheme or b"http"),
        )
        local, forwards = outcomes(hcm, request, source, peer)
        what = f"request {ex.id} {request.method} {request.path!r} host {request.authority!r} from {source}"
        timeouts.check_request_timeout_status(ex, hcm, local, what, self._upstream_may_have_answered(forwards))
        if ex.upstreams and head_size_at_least(request) > max_request_headers_bytes(hcm):
            raise InvariantViolation(
                "model_request_headers_too_large_forwarded",
                f"{what}: its head is at least {head_size_at_least(request)} bytes (target {len(request.path)}), "
                f"over max_request_headers_kb ({max_request_headers_bytes(hcm)} bytes), and it reached an upstream",
                expected="431, not forwarded",
                observed=f"forwarded to {ex.upstreams[0].cluster}",
            )
        if ex.upstreams:
            cluster = ex.upstreams[0].cluster
            if cluster is not None and cluster not in forwards:
                raise InvariantViolation(
                    "model_route_session",
                    f"{what} reached cluster {cluster!r}; the models forward it to "
                    f"{sorted(forwards) or 'no cluster'} (local replies {sorted(local, key=str)})",
                    expected=sorted(forwards),
                    observed=cluster,
                )
            self._check_delays(ex, hcm, what)
            routed = routed_request(hcm, request)
            self._check_route_timeout(ex, hcm, routed, what)
            reached = {up.cluster for up in ex.upstreams if up.cluster is not None}
            limits = frozenset().union(
                *(routing.route_timeouts(hcm.route_config, r, c) for r in routed for c in reached)
            )
            timeouts.check_gateway_timeout_explained(ex, hcm, limits, local, what)
            return
        self._check_retries(ex, hcm, request, local, forwards, what)
        self._check_retries_within_route_timeout(ex, hcm, request, local, forwards, what)
        if ex.outcome != "response" or ex.response is None or self._upstream_may_have_answered(forwards):
            return
        status = ex.response.status
        if status == 413:
            self._refused_body(what)
        if status == 503 and forwards and all(s != 503 for s, _ in local) and not self._upstream_tried(forwards):
            raise InvariantViolation(
                "model_upstream_failure_unexplained",
                f"{what} got a local 503 (an upstream failure), but the models forward it to "
                f"{sorted(forwards)} and no connection to their hosts was ever opened, nor any overflow counted",
                judged="proxy/http/filters/router.py:Router",
                expected=f"forwarded to {sorted(forwards)}, or a failure an upstream or a breaker explains",
                observed=503,
            )
        if status not in (403, 404, 429) and status >= 400:
            if all(s != status for s, _ in local):
                self._check_local_error(ex, hcm, request, forwards, local, what)
            return
        bodies = [body for s, body in local if s == status]
        if request.method == "HEAD" and status not in (204, 304):
            self._check_head_length(ex, bodies, what)
        if request.method == "HEAD" or status in (204, 304):
            bodies = [None for _ in bodies]  # no body goes with these (RFC 9110 9.3.2, 15.3.5, 15.4.5)
        if not bodies or (None not in bodies and bytes(ex.response.body) not in bodies):
            raise InvariantViolation(
                "model_local_reply_session",
                f"{what} got a local {status} ({len(ex.response.body)} body bytes); the models "
                f"reply {sorted(local, key=str) or 'nothing'} or forward to {sorted(forwards)}",
                expected=sorted(local, key=str),
                observed=status,
            )

    def _check_local_error(self, ex, hcm, request: Request, forwards, local, what: str) -> None:
        """A local error status no model branch gives: its documented cause (fuzz.models.local_errors)
        happened in this session (model_local_error_cause), or the status has none at all
        (model_local_reply_session)."""
        status = ex.response.status
        why = local_errors.cause(status, self._local_facts(ex, hcm, request, forwards))
        if why is None:
            raise InvariantViolation(
                "model_local_reply_session",
                f"{what} got a local {status}, which no model branch ({sorted(local, key=str) or 'none'}) "
                f"and no failure the proxy answers itself (fuzz.models.local_errors) produces",
                expected=sorted(s for s, _ in local),
                observed=status,
            )
        if not why:
            raise InvariantViolation(
                "model_local_error_cause",
                f"{what} got a local {status}, but the cause Envoy documents for it did not happen "
                f"(fuzz.models.local_errors; model branches {sorted(local, key=str) or 'none'}, "
                f"forwards {sorted(forwards)})",
                expected=f"no {status}",
                observed=status,
            )

    def _local_facts(self, ex, hcm, request: Request, forwards) -> local_errors.Facts:
        req, at = ex.request, ex.response.final_head_ms
        begun = self.begun.get(id(ex))
        routed = routed_request(hcm, request)
        return local_errors.Facts(
            protocol=ex.protocol,
            version=req.version,
            method=req.method,
            fields=tuple(req.headers) + tuple(req.trailers),
            head_bytes=head_bytes_at_most(ex),
            trailers=bool(req.trailers),
            forwarded=bool(forwards),
            upstream_opened=self._upstream_tried(forwards),
            upstream_spoke=self._upstream_may_have_answered(forwards),
            since_begun=None if at is None or begun is None else at - begun,
            since_ended=None if at is None or req.ended_ms is None else at - req.ended_ms,
            hcm=hcm,
            route_timeouts=frozenset().union(
                *(routing.route_timeouts(hcm.route_config, r, c) for r in routed for c in forwards)
            ),
        )

    @staticmethod
    def _refused_body(what: str) -> None:
        """No configured HTTP filter buffers a whole request: the router holds at most the buffer
        limit with the client paused, and a fault delay pauses it too (Envoy's fault filter, decodeData:
        StopIterationAndWatermark, "If the request is too large, stop reading new data until the buffer
        drains"). So the proxy never answers 413 (found by code reading: every delayed upload over the
        buffer limit got one)."""
        raise InvariantViolation(
            "model_request_body_refused",
            f"{what} got a local 413; no configured filter buffers a whole request body",
            expected="the request waits (reads paused) and goes on",
            observed=413,
        )

    @staticmethod
    def _check_head_length(ex, bodies, what: str) -> None:
        """RFC 9110 9.3.2 and 8.6: a HEAD gets the head a GET would get, and a Content-Length in it is
        the length the GET's content would have (or absent). Judged where the models know that
        content (a direct response's body). Found black-box: local replies to HEAD said 0."""
        declared = ex.response.header(b"content-length")
        lengths = {str(len(body)).encode() for body in bodies if body is not None}
        if declared is not None and bodies and None not in bodies and declared not in lengths:
            raise InvariantViolation(
                "model_local_reply_head_length",
                f"{what} got a local {ex.response.status} with content-length {declared!r}; the same "
                f"request as GET gets {sorted(lengths)} bytes (RFC 9110 9.3.2, 8.6)",
                expected=sorted(lengths),
                observed=declared,
            )

    @staticmethod
    def _check_delays(ex, hcm, what: str) -> None:
        """Fault filter docs, fixed_delay: "Add a fixed delay before forwarding the operation upstream"
        (bootstrap.proto HttpFault: every request not aborted). A request an upstream saw passed every
        HTTP filter, so it reached the upstream no earlier than the delays of its fault filters after
        the client sent its head (each delay starts when its filter gets the headers, later still)."""
        delay = sum(f.fault.delay_ms for f in hcm.http_filters if f.WhichOneof("filter") == "fault")
        sent, seen = ex.request.started_ms, ex.upstreams[0].request.started_ms
        if delay and sent is not None and seen is not None and seen - sent < delay:
            raise InvariantViolation(
                "model_fault_delay_session",
                f"{what} reached its upstream {seen - sent} ms after the client sent it; "
                f"its fault filters delay it {delay} ms",
                expected=f">= {delay} ms",
                observed=f"{seen - sent} ms",
            )

    @staticmethod
    def _check_route_timeout(ex, hcm, requests, what: str) -> None:
        """Envoy RouteAction.timeout (fuzz.models.routing.route_timeouts): the timer starts once the
        proxy has the whole request, so by the time an upstream read the request's end, and spans
        "when the upstream response has been completely processed". A response whose head, or whose
        end, that upstream sent only after every possible route timeout ran out must not reach the
        client complete: the proxy answered 504 (or reset) at the deadline, before it existed."""
        for up in ex.upstreams:
            if (
                up.cluster is None
                or up.request.ended_ms is None
                or up.response is None
                or up.response.started_ms is None
                or up.response.status in (0, 504)
            ):
                continue
            timeouts = set().union(*(routing.route_timeouts(hcm.route_config, r, up.cluster) for r in requests))
            if not timeouts or 0 in timeouts:
                continue
            deadline = up.request.ended_ms + max(timeouts)
            late = up.response.started_ms if up.response.ended_ms is None else up.response.ended_ms
            if (
                late > deadline
                and ex.outcome == "response"
                and ex.response is not None
                and ex.response.status == up.response.status
            ):
                raise InvariantViolation(
                    "model_route_timeout_late",
                    f"{what}: its upstream read the whole request at {up.request.ended_ms} ms and "
                    f"began its {up.response.status} response at {up.response.started_ms} ms, ended it "
                    f"at {up.response.ended_ms} ms, past the route timeout ({max(timeouts)} ms); the "
                    "client got that response",
                    expected=f"504 by {deadline} ms",
                    observed=up.response.status,
                )

    def _check_retries(self, ex, hcm, request: Request, local, forwards, what: str) -> None:
        """Retry policy (fuzz.models.retry): a request answered 503 by the proxy while every
        connection to its clusters' hosts in its time failed to connect was failed by connect
        failures, each a retry trigger, so it made num_retries + 1 attempts; each attempt is a
        connection of its own that failed in its time (a retry asks for a new stream after the
        failure). Fewer failed connections than that: the proxy gave up early."""
        failures = self._connect_failures(ex, local, forwards)
        if not failures:
            return  # not judged, or no attempt failed to connect in its time: a 503 for another reason
        client = self._client_of(ex.downstream) if hcm.HasField("access_log") else None
        if client is not None:
            self.connect_failed[(client, ex.request.method.decode("latin-1"))] += 1
        failed = len(failures)
        policies = set().union(*(routing.retry_policies(hcm.route_config, r) for r in routed_request(hcm, request)))
        want = min((retry.attempts(p, retry.always(retry.CONNECT_FAILURE)) for p in policies), default=1)
        if failed < want:
            raise InvariantViolation(
                "model_retry_attempts",
                f"{what} got a 503 after {failed} upstream connection(s) to {sorted(forwards)} failed to "
                f"connect in its time ({ex.request.started_ms}..{ex.response.final_head_ms} ms); its route's retry "
                f"policy makes {want} attempts",
                judged=Router.on_pool_failure,
                expected=f">= {want} failed attempts",
                observed=failed,
            )

    def _connect_failures(self, ex, local, forwards) -> list | None:
        """When the request was answered 503 after its attempts failed to connect: the times (sorted)
        at which connections to its clusters' hosts failed to connect in its time. None when that is
        not known: the 503 may be the policy's own (a fault abort, a direct response), a circuit
        breaker of those clusters overflowed (a 503 without retry), or one of their connections was
        up in that time (an upstream reset is no connect failure)."""
        if (
            ex.outcome != "response"
            or ex.response is None
            or ex.response.status != 503
            or not forwards
            or ex.request.started_ms is None
            or ex.response.final_head_ms is None
        ):
            return None
        counters = self.session.ctx.stats.counters
        aborted = any(v for k, v in counters.items() if k.startswith("http.fault.") and k.endswith("aborts_injected"))
        if (503, None) in local and aborted or any(status == 503 and body is not None for status, body in local):
            return None  # a fault filter's abort (it injected some), or a direct response
        if self._overflowed(forwards):
            return None
        endpoints = self._endpoints(forwards)
        start, end = ex.request.started_ms, ex.response.final_head_ms  # not a 100 Continue's time
        failures = []
        for conn, times in self.session.network.times.items():
            if tuple(conn.remote_address) not in endpoints:
                continue
            if times.carried_traffic_during(start, end):
                return None
            if times.failed_to_connect and start <= times.closed_ms <= end:
                failures.append(times.closed_ms)
        return sorted(failures)

    def _check_retries_within_route_timeout(self, ex, hcm, request: Request, local, forwards, what: str) -> None:
        """Envoy's router ("A few notes on how Envoy does retries"; RouteAction.timeout): the route
        timeout spans every attempt, so a request whose connects keep failing is answered by its
        deadline, with a 504 if its attempts outlast it. A 503 for connect failures whose last
        attempt failed after that deadline was retried past it. The deadline is bounded from above:
        the time the proxy had read the whole request (Message.read_ms, HTTP/1.1 or HTTP/2), plus its fault
        filters' delays, plus the longest timeout of the routes it may take. Judged when the failed
        connections in its time are exactly its attempts (num_retries + 1, none of another request)."""
        req = ex.request
        if req.read_ms is None or req.ended_ms is None or req.read_ms < req.ended_ms:
            return  # not known when the proxy had the whole request (read later than sent)
        failures = self._connect_failures(ex, local, forwards)
        routed = routed_request(hcm, request)
        policies = set().union(*(routing.retry_policies(hcm.route_config, r) for r in routed))
        want = min((retry.attempts(p, retry.always(retry.CONNECT_FAILURE)) for p in policies), default=1)
        if not failures or len(failures) != want:
            return
        timeouts = set().union(*(routing.route_timeouts(hcm.route_config, r, c) for r in routed for c in forwards))
        if not timeouts or 0 in timeouts:
            return
        delay = sum(f.fault.delay_ms for f in hcm.http_filters if f.WhichOneof("filter") == "fault")
        deadline = req.read_ms + delay + max(timeouts)
        if failures[-1] > deadline:
            raise InvariantViolation(
                "model_route_timeout_late",
                f"{what} got a 503 after its {want} attempts failed to connect, the last at {failures[-1]} ms; "
                f"the proxy had the whole request by {req.read_ms} ms and its route timeout is {max(timeouts)} ms "
                "(it spans every retry)",
                judged=Router.on_pool_failure,
                expected=f"504 by {deadline} ms",
                observed=f"503 at {failures[-1]} ms",
            )

    def _endpoints(self, clusters) -> set:
        """(host, port) of every endpoint of `clusters`."""
        return {(e.host, e.port) for c in self.boot.clusters if c.name in clusters for e in c.endpoints}

    def _upstream_tried(self, clusters) -> bool:
        """Whether an upstream failure could explain a 503 for a request routed to `clusters`: a
        connection to one of their hosts was opened (it may have failed, been reset or refused the
        stream), or one of their circuit breakers overflowed (Envoy's UO)."""
        endpoints = self._endpoints(clusters)
        return self._overflowed(clusters) or any(
            tuple(conn.remote_address) in endpoints for conn in self.session.network.opened
        )

    def _overflowed(self, clusters) -> bool:
        """One of `clusters`' circuit breakers overflowed at some point of the session."""
        counters = self.session.ctx.stats.counters
        return any(counters.get(f"cluster.{c}.{name}", 0) for c in clusters for name in _BREAKER_OVERFLOWS)

    def _upstream_may_have_answered(self, clusters) -> bool:
        """Whether an upstream of one of `clusters` sent bytes in this session: a response it sent
        before reading the request (then reset) would reach the client with no upstream linked to
        the request, so a reply is judged local only when no such upstream spoke."""
        endpoints = self._endpoints(clusters)
        return any(conn.io.sent and tuple(conn.remote_address) in endpoints for conn in self.session.network.opened)


# http_connection_manager.proto, max_request_headers_kb: "The maximum request headers size for incoming
# connections. If unconfigured, the default max request headers allowed is 60 KiB. Requests that exceed
# this limit will receive a 431 response." The size is the request's header map, pseudo-headers
# (:method, :path, :authority) included, as HTTP/2 counts a header list (RFC 9113 6.5.2).
DOCUMENTED_MAX_REQUEST_HEADERS_KB = 60
# Fields a codec may drop or rewrite before the connection manager measures the head (hop-by-hop and
# connection-specific fields, Host as the authority, Expect it answers, cookie crumbs it may join):
# left out of the lower bound.
_NOT_MEASURED = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "expect", "host", "cookie"}
)


_BREAKER_OVERFLOWS = ("upstream_rq_overflow", "upstream_rq_pending_overflow", "upstream_cx_overflow")


def _every_manager_logs(boot) -> bool:
    """Every HTTP connection manager of the configuration writes an access log."""
    return all(hcm.HasField("access_log") for hcm in connection_managers(boot))


def max_request_headers_bytes(hcm) -> int:
    kb = hcm.max_request_headers_kb if hcm.HasField("max_request_headers_kb") else DOCUMENTED_MAX_REQUEST_HEADERS_KB
    return kb * 1024


def head_bytes_at_most(ex) -> int | None:
    """An upper bound of the size the connection manager gives a request's head: HTTP/1.x, the bytes
    the head took on the wire, plus the authority and scheme it may count beside the Host field;
    HTTP/2, the header list size of RFC 9113 6.5.2 (32 bytes over each field, pseudo-headers too)."""
    req = ex.request
    extra = len(req.authority) + len(b"https")
    if ex.protocol != "HTTP/2":
        return None if req.head_bytes is None else req.head_bytes + extra
    pseudo = len(req.method) + len(req.target) + len(req.scheme) + extra + 4 * 32
    return pseudo + sum(len(n) + len(v) + 32 for n, v in req.headers)


def begun_no_earlier(exchanges) -> dict:
    """id(exchange) -> a time no later than the proxy can have begun reading its request: HTTP/2, the
    client sent its HEADERS then (a header block comes whole, or the connection ends); HTTP/1.x, its
    first byte followed the previous request's head on the connection (the session's start for the
    first one)."""
    out: dict = {}
    last_head: dict = {}
    for ex in exchanges:
        if ex.protocol == "HTTP/2":
            out[id(ex)] = ex.request.started_ms
        else:
            out[id(ex)] = last_head.get(ex.downstream, 0)
            last_head[ex.downstream] = ex.request.started_ms
    return out


def head_size_at_least(request: Request) -> int:
    """A lower bound of the size the connection manager gives the request's head: method, target and
    authority, and the name and value bytes of every field no codec drops or rewrites."""
    named = connection_options(request.headers)
    fields = sum(
        len(n) + len(v) for n, v in request.headers if n.lower() not in _NOT_MEASURED and n.lower() not in named
    )
    return len(request.method) + len(request.path) + len(request.authority) + fields


def outcomes(hcm, request: Request, source: str, peer=None) -> tuple:
    """({(status, body or None)} local replies, {cluster} forwards) some branch of the HTTP filters and
    the route table can produce for `request` from `source` (with `peer`, the client certificate its
    TLS handshake verified: RBAC's authenticated principal)."""
    local: set[tuple[int, bytes | None]] = set()
    forwards: set[str] = set()
    if head_size_at_least(request) > max_request_headers_bytes(hcm):
        local.add((431, None))  # before the path options and every filter
        return local, forwards
    action, path = paths.apply(hcm, request.path)  # before every filter and the route table
    if action != "forward":
        local.add((400, None) if action == "reject" else (307, b""))
        return local, forwards
    request = Request(request.method, request.authority, path, request.headers, request.scheme)
    routed = [request]
    for f in hcm.http_filters:
        kind = f.WhichOneof("filter")
        cfg = getattr(f, kind)
        if kind == "rbac":
            verdict = rbac.decide(rbac.from_http(cfg), cfg.shadow, rbac.Subject(source, 0, request, peer))
            if not verdict.allowed:
                local.add((403, None))
                return local, forwards
        elif kind == "local_ratelimit":
            local.add((429, None))
        elif kind == "fault" and cfg.abort_percent:
            local.add((cfg.abort_status, None))
            if cfg.abort_percent >= 100:
                return local, forwards
        elif kind == "header_mutation":
            request = _mutated(cfg, request)
            routed.append(request)  # the route may be chosen before or after the mutation
    for answer in set().union(*(routing.answers(hcm.route_config, r) for r in (routed[0], routed[-1]))):
        if answer[0] == "cluster":
            forwards.add(answer[1])
        elif answer[0] == "direct":
            local.add((answer[1], answer[2].encode()))
        else:
            local.add((404, None))
    return local, forwards


def routed_request(hcm, request: Request) -> tuple:
    """The request as the route table may see it: before and after the header mutations."""
    request = Request(
        request.method, request.authority, paths.apply(hcm, request.path)[1], request.headers, request.scheme
    )
    routed = [request]
    for f in hcm.http_filters:
        if f.WhichOneof("filter") == "header_mutation":
            routed.append(_mutated(f.header_mutation, routed[-1]))
    return (routed[0], routed[-1])


def _mutated(cfg, request: Request) -> Request:
    """bootstrap.proto HeaderMutation: request_headers_to_remove, then request_headers_to_add appended
    (as fuzz.targets.http_filter's reference for the filter has it)."""
    gone = set(cfg.request_headers_to_remove)
    headers = tuple((n, v) for n, v in request.headers if n not in gone)
    headers += tuple(cfg.request_headers_to_add.items())
    return Request(request.method, request.authority, request.path, headers, request.scheme)
