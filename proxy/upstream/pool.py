"""HTTP connection pools per cluster, with circuit breakers (Envoy's ConnPool + ResourceManager).

    pool = http_pools(ctx).get("web")
    handle = pool.new_stream(user)     # user.on_pool_ready(stream) now or later,
                                       # or user.on_pool_failure(reason, flag); handle.cancel()

Each request first gets its host from the cluster's load balancer (Envoy keeps one pool per host
and balances requests, not connections: round robin over two endpoints sends a keep-alive
client's requests to each in turn). It takes a ready connection to that host with room (HTTP/1.1:
an idle keep-alive connection; HTTP/2: a connection below the peer's stream limit, and only one
stream before the peer's SETTINGS say what that limit is); otherwise it
waits in the pending queue and a new connection to its host is opened through the ClusterManager
(its max_connections breaker and connect timer apply) unless the connections to that host already
connecting have room for every request pending for it.

Circuit breakers, each a 503 with response flag UO when open:
  max_requests          requests outstanding on the cluster (pending or on a connection);
  max_pending_requests  requests waiting for a connection;
  max_connections       no connection may be opened and none to the request's host is open to
                        wait for.
A connection that fails to connect (refused, or connect_timeout_ms) fails the pending requests for
its host that the connections still connecting to it cannot take: response flag UF (the router may
retry, and its retry gets a host of its own).

Stats `cluster.<name>.`: upstream_rq_total (a request attached to a connected connection, as
Envoy's attachStreamToClient counts it: never an overflow, a request failed by a connect failure or
one cancelled while pending), upstream_rq_pending_total, upstream_rq_pending_overflow,
upstream_rq_overflow (max_requests), upstream_rq_pending_failure_eject, upstream_rq_cancelled (given
up by its requester while pending), upstream_cx_http1_total, upstream_cx_http2_total,
upstream_cx_protocol_error (pool_conn.py); gauges upstream_rq_active (outstanding: pending or on a
connection, what max_requests counts), upstream_rq_pending_active.
"""

from collections import deque

from .pool_conn import PoolConnection

H2_ASSUMED_STREAMS = 100  # what a connecting HTTP/2 connection is expected to carry


class PendingRequest:
    __slots__ = ("pool", "user", "host", "done")

    def __init__(self, pool, user, host) -> None:
        self.pool = pool
        self.user = user
        self.host = host  # the load balancer's pick: only a connection to it serves the request
        self.done = False

    def cancel(self) -> None:
        """The requester gave up (downstream reset, timeout) before getting a stream."""
        if not self.done:
            self.done = True
            self.pool._drop_pending(self)


class ClusterHttpPool:
    def __init__(self, ctx, cluster) -> None:
        self.ctx = ctx
        self.cluster = cluster  # proxy.upstream.cluster.ActiveCluster
        built = cluster.built
        self.protocol = built.protocol
        self.max_pending = built.max_pending_requests
        self.max_requests = built.max_requests
        self.connections: list[PoolConnection] = []
        self.pending: deque[PendingRequest] = deque()
        self.requests = 0  # outstanding: pending + attached to a connection
        self.prefix = f"cluster.{built.name}."

    # -- asking for a stream ----------------------------------------------------------------------------
    def new_stream(self, user):
        """Returns a PendingRequest handle, or None when `user` was already told (ready or failure)."""
        stats = self.ctx.stats
        if self.requests >= self.max_requests:
            stats.inc(self.prefix + "upstream_rq_overflow")
            user.on_pool_failure("overflow", "UO")
            return None
        host = self.cluster.lb.choose()
        for pc in self.connections:
            if pc.host == host and pc.can_take():
                self._count_request()
                self._attach(pc, user)
                return None
        if len(self.pending) >= self.max_pending:
            stats.inc(self.prefix + "upstream_rq_pending_overflow")
            user.on_pool_failure("overflow", "UO")
            return None
        self._count_request()
        req = PendingRequest(self, user, host)
        self.pending.append(req)
        stats.inc(self.prefix + "upstream_rq_pending_total")
        stats.gauge_add(self.prefix + "upstream_rq_pending_active", 1)
        self._maybe_connect(host)
        self._rehome_stranded()
        if not req.done and not any(pc.host == req.host for pc in self.connections):
            # No connection could be opened and none exists whose end we could wait for.
            self._fail_pending(req, "overflow", "UO")
        return None if req.done else req

    def _count_request(self) -> None:
        """One more request outstanding (max_requests, upstream_rq_active), pending or not."""
        self.requests += 1
        self.ctx.stats.gauge_add(self.prefix + "upstream_rq_active", 1)

    def _attach(self, pc: PoolConnection, user) -> None:
        """The request goes on a connected connection: only now is it one of upstream_rq_total."""
        self.ctx.stats.inc(self.prefix + "upstream_rq_total")
        user.on_pool_ready(pc.attach(user))

    def _release_request(self) -> None:
        self.requests -= 1
        self.ctx.stats.gauge_add(self.prefix + "upstream_rq_active", -1)
        if self.requests < 0:
            raise AssertionError("pool request count went negative")

    def _pending_for(self, host) -> int:
        return sum(1 for req in self.pending if req.host == host)

    def _connecting_capacity(self, host) -> int:
        """Streams the connections to `host` on their way can take: connecting ones, HTTP/2 ones
        waiting for the upstream's SETTINGS, and resting HTTP/1.1 ones (a request waits for them
        rather than opening another connection)."""
        per = H2_ASSUMED_STREAMS if self.protocol == "http2" else 1
        return sum(
            per
            for pc in self.connections
            if pc.host == host and (pc.state == "connecting" or pc.resting or pc.awaiting_settings)
        )

    def _maybe_connect(self, host) -> None:
        while self._pending_for(host) > self._connecting_capacity(host):
            result = self.ctx.cluster_manager.tcp_conn_for_cluster(self.cluster.name, host, http=True)
            if result is None:
                return  # max_connections: wait for a busy connection to free up
            conn, host = result
            self.ctx.stats.inc(
                self.prefix + ("upstream_cx_http2_total" if self.protocol == "http2" else "upstream_cx_http1_total")
            )
            pc = PoolConnection(self, conn, host, self.protocol)
            self.connections.append(pc)
            if not conn.is_open:  # failed synchronously
                pc.on_event(conn.close_event)

    def _drop_pending(self, req: PendingRequest) -> None:
        """Its requester gave up on it while it waited (Envoy's upstream_rq_cancelled)."""
        if req in self.pending:
            self.ctx.stats.inc(self.prefix + "upstream_rq_cancelled")
            self._unqueue(req)

    def _unqueue(self, req: PendingRequest) -> None:
        self.pending.remove(req)
        self.ctx.stats.gauge_add(self.prefix + "upstream_rq_pending_active", -1)
        self._release_request()

    def _fail_pending(self, req: PendingRequest, reason: str, flag: str) -> None:
        req.done = True
        if req in self.pending:
            self._unqueue(req)
        req.user.on_pool_failure(reason, flag)

    def _serve_pending(self) -> None:
        for pc in list(self.connections):
            while pc.can_take():
                req = next((r for r in self.pending if r.host == pc.host), None)
                if req is None:
                    break
                self.pending.remove(req)
                self.ctx.stats.gauge_add(self.prefix + "upstream_rq_pending_active", -1)
                req.done = True
                self._attach(pc, req.user)
        self._connect_for_pending()

    def _connect_for_pending(self) -> None:
        for host in dict.fromkeys(req.host for req in self.pending):
            self._maybe_connect(host)
        self._rehome_stranded()

    def _rehome_stranded(self) -> None:
        """Requests whose host has no connection and can get none (max_connections is full) take
        the cluster's other connections: an idle one now, else they wait for a busy one. Envoy would
        open one over the limit for the chosen host; the hard cap here must not turn max_connections
        below the host count into 503s for a cluster with idle connections."""
        for req in list(self.pending):
            if req.done or any(pc.host == req.host for pc in self.connections) or not self.connections:
                continue
            ready = next((pc for pc in self.connections if pc.can_take()), None)
            if ready is None:
                req.host = self.connections[0].host
                continue
            self.pending.remove(req)
            self.ctx.stats.gauge_add(self.prefix + "upstream_rq_pending_active", -1)
            req.done = True
            self._attach(ready, req.user)

    # -- what connections report -------------------------------------------------------------------------
    def on_connection_ready(self, pc: PoolConnection) -> None:
        self._serve_pending()

    def on_stream_limit_known(self, pc: PoolConnection) -> None:
        """An HTTP/2 connection's first SETTINGS came with no room for more: the requests that
        waited for it (it counted as H2_ASSUMED_STREAMS) get connections of their own."""
        self._connect_for_pending()

    def on_stream_closed(self, pc: PoolConnection) -> None:
        self._release_request()
        if pc.state == "ready" and not pc.active and not pc.can_take() and pc.conn.is_open:
            pc.conn.close()  # neither reusable nor busy (the codec will not take another request)
        elif pc.protocol == "http1" and pc.can_take():
            pc.rest_before_reuse()  # serves the queue when done
            return
        self._serve_pending()

    def on_connection_closed(self, pc: PoolConnection) -> None:
        if pc in self.connections:
            self.connections.remove(pc)
        self._connect_for_pending()

    def on_connect_failure(self, pc: PoolConnection, failure: str) -> None:
        if pc in self.connections:
            self.connections.remove(pc)
        reason = "connect_timeout" if failure == "connect_timeout" else "connect_failure"
        host = pc.host
        while self._pending_for(host) > self._connecting_capacity(host) + self._ready_capacity(host):
            self.ctx.stats.inc(self.prefix + "upstream_rq_pending_failure_eject")
            self._fail_pending(next(r for r in self.pending if r.host == host), reason, "UF")
        # The failed connection's max_connections slot is free: requests queued for other hosts (or
        # left for this one) get connections, as after any other close.
        self._connect_for_pending()

    def _ready_capacity(self, host) -> int:
        return sum(1 for pc in self.connections if pc.host == host and pc.can_take())


class HttpPoolManager:
    """Per server instance: one ClusterHttpPool per cluster, made on first use."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.pools: dict[str, ClusterHttpPool] = {}

    def get(self, cluster_name: str) -> ClusterHttpPool | None:
        pool = self.pools.get(cluster_name)
        if pool is None:
            cluster = self.ctx.cluster_manager.get(cluster_name) if self.ctx.cluster_manager else None
            if cluster is None:
                return None
            pool = self.pools[cluster_name] = ClusterHttpPool(self.ctx, cluster)
        return pool


def http_pools(ctx) -> HttpPoolManager:
    return ctx.shared_state("http_pools", lambda: HttpPoolManager(ctx))
