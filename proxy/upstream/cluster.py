"""Clusters: the immutable description built from the configuration, and the per-instance manager.

`BuiltCluster` is made once per configuration (frozen, shareable between server instances).
`ClusterManager` is made per instance (see proxy/build.py `instantiate`): it owns the load
balancers' positions, the open-connection counts of the circuit breaker and the connect
timers, all on the instance's dispatcher and network.

Stats per cluster, `cluster.<name>.`:
  upstream_cx_total            connections opened
  upstream_cx_active (gauge)   connections open now
  upstream_cx_connect_fail     connect attempts that failed or timed out (not ones abandoned by their user)
  upstream_cx_connect_timeout  connect attempts abandoned at connect_timeout_ms
  upstream_cx_overflow         connections refused by the max_connections circuit breaker
  ssl.*                        TLS to the hosts (proxy/tls/transport.py), with a tls_context
"""

from dataclasses import dataclass

from ..config import defaults
from ..network.connection import DEFAULT_BUFFER_LIMIT, CloseType, ConnectionEvent
from ..network.filter import ConnectionCallbacks
from ..tls.transport import TlsTransportSocket
from .lb import make_load_balancer

DEFAULT_CONNECT_TIMEOUT_MS = 5000
DEFAULT_MAX_CONNECTIONS = 1024  # Envoy's circuit breaker default
DEFAULT_MAX_PENDING_REQUESTS = 1024
DEFAULT_MAX_REQUESTS = 1024

_LB_POLICIES = {0: "round_robin", 1: "random"}
_PROTOCOLS = {0: "http1", 1: "http2"}


@dataclass(frozen=True)
class Host:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class BuiltCluster:
    name: str
    hosts: tuple
    lb_policy: str = "round_robin"
    connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS
    buffer_limit: int = DEFAULT_BUFFER_LIMIT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    protocol: str = "http1"
    # HTTP circuit breakers, applied by the HTTP pools (proxy/upstream/pool.py).
    max_pending_requests: int = DEFAULT_MAX_PENDING_REQUESTS
    max_requests: int = DEFAULT_MAX_REQUESTS
    tls: object = None  # proxy.tls.context.TlsClientConfig: connections to the hosts use TLS
    http_tls: object = None  # the same for the HTTP pools, offering the protocol by ALPN (None: tls)

    @classmethod
    def from_config(cls, msg, tls=None, http_tls=None) -> "BuiltCluster":
        """From a validated `Cluster` message (and its TLS context, built by proxy/build.py);
        copies every value, keeps no reference to it."""
        return cls(
            name=msg.name,
            hosts=tuple(Host(e.host, e.port) for e in msg.endpoints),
            lb_policy=_LB_POLICIES[msg.lb_policy],
            connect_timeout_ms=msg.connect_timeout_ms
            if msg.HasField("connect_timeout_ms")
            else DEFAULT_CONNECT_TIMEOUT_MS,
            buffer_limit=(
                msg.per_connection_buffer_limit_bytes
                if msg.HasField("per_connection_buffer_limit_bytes")
                else DEFAULT_BUFFER_LIMIT
            ),
            # The smaller of the two caps, each 1024 when unset (bootstrap.proto): an unset breaker
            # still bounds a Cluster.max_connections set above it.
            max_connections=defaults.cluster_max_connections(msg),
            protocol=_PROTOCOLS[msg.protocol],
            max_pending_requests=(
                msg.circuit_breakers.max_pending_requests
                if msg.circuit_breakers.HasField("max_pending_requests")
                else DEFAULT_MAX_PENDING_REQUESTS
            ),
            max_requests=(
                msg.circuit_breakers.max_requests
                if msg.circuit_breakers.HasField("max_requests")
                else DEFAULT_MAX_REQUESTS
            ),
            tls=tls,
            http_tls=http_tls,
        )


class ActiveCluster:
    """One cluster's runtime state in one server instance."""

    def __init__(self, built: BuiltCluster, ctx) -> None:
        self.built = built
        self.name = built.name
        self.ctx = ctx
        self.lb = make_load_balancer(built.lb_policy, built.hosts, ctx.random)
        self.active_connections = 0
        self.stat_prefix = f"cluster.{built.name}."

    def inc(self, name: str) -> None:
        self.ctx.stats.inc(self.stat_prefix + name)


class _UpstreamConnectionTracker(ConnectionCallbacks):
    """Follows one upstream connection: connect timer, connect failure, the open count."""

    __slots__ = ("cluster", "conn", "timer")

    def __init__(self, cluster: ActiveCluster, conn) -> None:
        self.cluster = cluster
        self.conn = conn
        self.timer = cluster.ctx.dispatcher.create_timer(self._on_connect_timeout)
        self.timer.enable(cluster.built.connect_timeout_ms)

    def _on_connect_timeout(self) -> None:
        if self.conn.connected or not self.conn.is_open:
            return
        self.cluster.inc("upstream_cx_connect_timeout")
        self.conn.stream_info["failure"] = "connect_timeout"
        self.conn.close(CloseType.NO_FLUSH)

    def on_event(self, event) -> None:
        if event is ConnectionEvent.CONNECTED:
            self.timer.disable()
            return
        self.timer.disable()
        # A connect failure is the transport's (RemoteClose) or our timeout; a connection its
        # user abandoned while connecting (LocalClose) is not one.
        if not self.conn.connected and (
            event is ConnectionEvent.REMOTE_CLOSE or self.conn.stream_info.get("failure") == "connect_timeout"
        ):
            self.cluster.inc("upstream_cx_connect_fail")
        self.cluster.active_connections -= 1
        self.cluster.ctx.stats.gauge_add(self.cluster.stat_prefix + "upstream_cx_active", -1)


class ClusterManager:
    def __init__(self, ctx, clusters) -> None:
        """`clusters`: BuiltCluster values (a mapping by name or an iterable)."""
        values = clusters.values() if hasattr(clusters, "values") else clusters
        self.ctx = ctx
        self.clusters = {c.name: ActiveCluster(c, ctx) for c in values}

    def get(self, name: str) -> ActiveCluster | None:
        return self.clusters.get(name)

    def tcp_conn_for_cluster(self, name: str, host=None, http: bool = False):
        """Open a connection to `host`, or to the host the cluster's load balancer picks, of cluster
        `name`: `(connection, host)`, or None when the cluster is unknown or its max_connections
        circuit breaker is open. `http`: for an HTTP pool (its TLS offers the protocol by ALPN).

        The connection is connecting; it raises Connected, or closes (connect failure, or
        LocalClose at connect_timeout_ms with stream_info["failure"] == "connect_timeout")."""
        cluster = self.clusters.get(name)
        if cluster is None:
            return None
        if cluster.active_connections >= cluster.built.max_connections:
            cluster.inc("upstream_cx_overflow")
            return None
        if self.ctx.network is None:
            raise RuntimeError("ServerContext.network is None: this instance opens no upstream connection")
        host = host or cluster.lb.choose()
        conn = self.ctx.network.connect(host.host, host.port, cluster.built.buffer_limit)
        conn.filter_manager.observer = self.ctx.filter_observer
        tls = (cluster.built.http_tls or cluster.built.tls) if http else cluster.built.tls
        if tls is not None and conn.is_open:
            conn.transport_socket = TlsTransportSocket(tls, False, self.ctx.stats, cluster.stat_prefix + "ssl.")
        cluster.active_connections += 1
        cluster.inc("upstream_cx_total")
        self.ctx.stats.gauge_add(cluster.stat_prefix + "upstream_cx_active", 1)
        tracker = _UpstreamConnectionTracker(cluster, conn)
        conn.add_connection_callbacks(tracker)
        if not conn.is_open:  # a transport that failed synchronously, before we could listen
            tracker.on_event(conn.close_event)
        return conn, host
