"""Circuit breakers: how many upstream connections a cluster may have open at once, and how many
requests it may have outstanding.

envoy/config/cluster/v3/circuit_breaker.proto, Thresholds.max_connections: "The maximum number of
connections that Envoy will make to the upstream cluster. If not specified, the default is 1024."
(arch_overview/upstream/circuit_breaking: "Cluster maximum connections ... If this circuit breaker
overflows the upstream_cx_overflow counter for the cluster will increment.") Our schema adds
Cluster.max_connections, a hard cap applied together with circuit_breakers.max_connections: the
smaller one wins (bootstrap.proto), both 1024 when unset.

A connection counts from the moment it is opened (connecting included) until it is closed. The
judge sees connections on the wire, by the endpoint they go to: every connection to an endpoint of
cluster C was opened by C or by another cluster listing that endpoint, so the connections open to
C's endpoints are at most the sum of the limits of the clusters sharing any of them (exactly C's
limit when no other cluster lists them).

Thresholds.max_requests: "The maximum number of parallel requests that Envoy will make to the
upstream cluster. If not specified, the default is 1024"; max_pending_requests: "The maximum number
of pending requests that Envoy will allow to the upstream cluster. If not specified, the default is
1024" (arch_overview/upstream/circuit_breaking: overflows count upstream_rq_overflow and
upstream_rq_pending_overflow). Each request outstanding on a cluster (pending or on a connection) is
a request some client has in flight, so a breaker of N can only overflow once N requests were in
flight at once: check_request_overflows compares each overflow counter with the most exchanges the
clients had in flight together (from a request's head to the outcome its client saw; ends and
starts at one instant overlap, so the count is an upper bound).
"""

from fuzz.oracles import InvariantViolation

DEFAULT_MAX_CONNECTIONS = 1024  # Envoy's Thresholds default


def max_connections(cluster) -> int:
    """A Cluster message's effective connection limit."""
    own = cluster.max_connections if cluster.HasField("max_connections") else DEFAULT_MAX_CONNECTIONS
    breakers = cluster.circuit_breakers
    breaker = breakers.max_connections if breakers.HasField("max_connections") else DEFAULT_MAX_CONNECTIONS
    return min(own, breaker)


def endpoints(cluster) -> frozenset:
    return frozenset((e.host, e.port) for e in cluster.endpoints)


_LIMITS: dict = {}  # id(bootstrap) -> (bootstrap, its clusters' limits): once per configuration, not per check


def _cluster_limits(bootstrap) -> list:
    """Per cluster: (name, its endpoints, the clusters sharing any of them with their limits, the
    sum of those limits)."""
    cached = _LIMITS.get(id(bootstrap))
    if cached is None or cached[0] is not bootstrap:
        clusters = [(c.name, endpoints(c), max_connections(c)) for c in bootstrap.clusters]
        limits = []
        for name, hosts, _ in clusters:
            sharing = [(other, limit) for other, other_hosts, limit in clusters if other_hosts & hosts]
            limits.append((name, hosts, sharing, sum(limit for _, limit in sharing)))
        cached = _LIMITS[id(bootstrap)] = (bootstrap, limits)
    return cached[1]


def check_max_connections(bootstrap, upstream_connections) -> None:
    """`upstream_connections`: every upstream connection the proxy opened, as (endpoint, is_open)."""
    open_to: dict = {}
    for endpoint, is_open in upstream_connections:
        if is_open:
            open_to[endpoint] = open_to.get(endpoint, 0) + 1
    if not open_to:
        return
    for name, hosts, sharing, allowed in _cluster_limits(bootstrap):
        n = sum(open_to.get(h, 0) for h in hosts)
        if n > allowed:
            names = ", ".join(f"{other} ({limit})" for other, limit in sharing)
            raise InvariantViolation(
                "model_circuit_breaker_max_connections",
                f"{n} upstream connections open to the endpoints of cluster {name}; the max_connections "
                f"of the clusters listing them allow {allowed}: {names}",
                judged="proxy/upstream/cluster.py:ClusterManager.tcp_conn_for_cluster",
                expected=allowed,
                observed=n,
            )


DEFAULT_MAX_REQUESTS = DEFAULT_MAX_PENDING_REQUESTS = 1024  # Envoy's Thresholds defaults


def request_limits(cluster) -> dict:
    """{overflow counter: the threshold it guards} for a Cluster message."""
    breakers = cluster.circuit_breakers
    return {
        "upstream_rq_overflow": breakers.max_requests if breakers.HasField("max_requests") else DEFAULT_MAX_REQUESTS,
        "upstream_rq_pending_overflow": breakers.max_pending_requests
        if breakers.HasField("max_pending_requests")
        else DEFAULT_MAX_PENDING_REQUESTS,
    }


def most_in_flight(exchanges) -> int:
    """The most exchanges in flight at one instant: from the request head (its client's first byte of
    it when unknown: time 0) to the outcome its client saw (never seen: still in flight)."""
    events = []
    for ex in exchanges:
        events.append((ex.request.started_ms or 0, 0))  # at one instant starts come before ends
        if ex.outcome_ms is not None:
            events.append((ex.outcome_ms, 1))
    most = live = 0
    for _, end in sorted(events):
        live += -1 if end else 1
        most = max(most, live)
    return most


def check_request_overflows(bootstrap, counters: dict, exchanges) -> None:
    """A request breaker of a cluster overflowed only with at least its threshold of requests in flight.
    `exchanges`: every request every client sent (fuzz.peers records; all of them understood)."""
    peak = None
    for cluster in bootstrap.clusters:
        for counter, threshold in request_limits(cluster).items():
            if not counters.get(f"cluster.{cluster.name}.{counter}", 0):
                continue
            peak = most_in_flight(exchanges) if peak is None else peak
            if peak < threshold:
                raise InvariantViolation(
                    "model_circuit_breaker_requests",
                    f"cluster {cluster.name} counted {counter} = {counters[f'cluster.{cluster.name}.{counter}']} "
                    f"(threshold {threshold}), but the clients never had more than {peak} requests in flight at once",
                    judged="proxy/upstream/pool.py:ClusterHttpPool.new_stream",
                    expected=f">= {threshold} requests in flight before an overflow",
                    observed=peak,
                )
