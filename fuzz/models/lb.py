"""Load balancing: which host of a cluster each new upstream connection goes to.

Envoy, arch_overview/upstream/load_balancing/load_balancers, "Weighted round robin": "This is a simple
policy in which each available upstream host is selected in round robin order. If weights are assigned
to endpoints in a locality, then a weighted round robin schedule is used". ROUND_ROBIN is the default
lb_policy (envoy/config/cluster/v3/cluster.proto). Our endpoints carry no weight and no health check,
so every host is available and each new connection of a ROUND_ROBIN cluster goes to the host listed
after the one the cluster chose before it, wrapping around (where the cycle starts is not judged).
RANDOM is not judged (every host is allowed for every choice; the schema has no weights, health
checks or priorities, so the allowed set is the whole cluster).

The judge sees connections on the wire, by endpoint: a cluster is judged when no other cluster lists
any of its endpoints, it lists each endpoint once, and no HTTP route names it. The connections opened
to its endpoints are then exactly its choices (one per tcp_proxy connection), in the order they were
opened. An HTTP router's choice is per request, not per connection (Envoy keeps one connection pool
per host and asks the load balancer for each request: a request may take an idle connection to its
host), so the connections of an HTTP cluster are only some of its choices and are not judged here:
check_round_robin_requests judges those clusters by their requests.

Per request (check_round_robin_requests). Envoy, arch_overview/upstream/load_balancing/overview: "When
a filter needs to acquire a connection to a host in an upstream cluster, the cluster manager uses a
load balancing policy to determine which host is selected", and arch_overview/upstream/
connection_pooling: "Each host in each cluster will have one or more connection pools": the router
asks the load balancer for every request (every retry too) and only that host's pool serves it. So K
requests of a ROUND_ROBIN cluster of n hosts go to consecutive hosts of the cycle: each host gets
floor(K/n) or ceil(K/n) of them, and the hosts that got one more are consecutive in the listed order
(wrapping around). Judged where the upstreams saw every request the cluster chose a host for: the
upstream requests the peers read, of that cluster, are as many as its upstream_rq_total, and no
choice can have gone unseen (no pending or request overflow, no connect failure or timeout, no
connection refused by max_connections, whose request docs/semantics.md lets take another host's
connection). A tcp_proxy using the same cluster takes turns in the same cycle: each upstream
connection it opened is one more choice.
"""

from fuzz.oracles import InvariantViolation

ROUND_ROBIN = 0  # Cluster.LbPolicy

_JUDGED: dict = {}  # id(bootstrap) -> (bootstrap, [(name, endpoint -> position, host count)])


def _judged(bootstrap) -> list:
    cached = _JUDGED.get(id(bootstrap))
    if cached is None or cached[0] is not bootstrap:
        routed = _http_routed(bootstrap)
        listed = [[(e.host, e.port) for e in c.endpoints] for c in bootstrap.clusters]
        owners: dict = {}
        for hosts in listed:
            for h in set(hosts):
                owners[h] = owners.get(h, 0) + 1
        judged = [
            (c.name, {h: i for i, h in enumerate(hosts)}, len(hosts))
            for c, hosts in zip(bootstrap.clusters, listed)
            if c.lb_policy == ROUND_ROBIN
            and c.name not in routed
            and len(hosts) > 1
            and len(set(hosts)) == len(hosts)
            and all(owners[h] == 1 for h in hosts)
        ]
        if len(_JUDGED) > 512:
            _JUDGED.clear()
        cached = _JUDGED[id(bootstrap)] = (bootstrap, judged)
    return cached[1]


# Counters that move when a request's host choice can go unseen by the upstreams (or, for
# upstream_cx_overflow, when its request may be served by another host's connection).
_UNSEEN_CHOICES = (
    "upstream_rq_pending_overflow",
    "upstream_rq_overflow",
    "upstream_cx_overflow",
    "upstream_cx_connect_fail",
    "upstream_cx_connect_timeout",
)


def check_round_robin_requests(bootstrap, counters, seen, tcp_choices=()) -> None:
    """`seen`: (cluster name, endpoint) of every request an upstream read (a retry's too), in any order;
    `tcp_choices`: (cluster name, endpoint) of every upstream connection tcp_proxy opened."""
    for name, hosts, requests in judged_requests(bootstrap, counters, seen, tcp_choices):
        counts = [requests.count(h) for h in hosts]
        if _round_robin_counts(counts):
            continue
        k, n = len(requests), len(hosts)
        raise InvariantViolation(
            "model_round_robin_requests",
            f"cluster {name} (ROUND_ROBIN, {n} hosts): its {k} requests went {counts} to its hosts in order; "
            f"round robin gives each {k // n} or {k // n + 1}, the larger share to consecutive hosts",
            judged="proxy/upstream/pool.py:ClusterHttpPool.new_stream",
            expected=f"{k // n} or {k // n + 1} per host",
            observed=counts,
        )


def judged_requests(bootstrap, counters, seen, tcp_choices=()) -> list:
    """(cluster name, its hosts in order, the endpoint of each of its choices: requests and tcp_proxy
    connections) of every cluster whose choices check_round_robin_requests judges (two or more, two
    requests among them, every choice seen)."""
    per_cluster: dict = {}
    for cluster, endpoint in seen:
        per_cluster.setdefault(cluster, []).append(tuple(endpoint))
    tcp: dict = {}
    for cluster, endpoint in tcp_choices:
        tcp.setdefault(cluster, []).append(tuple(endpoint))
    out = []
    for c in bootstrap.clusters:
        hosts = [(e.host, e.port) for e in c.endpoints]
        requests = per_cluster.get(c.name, [])
        prefix = f"cluster.{c.name}."
        if (
            c.lb_policy == ROUND_ROBIN
            and len(hosts) >= 2
            and len(set(hosts)) == len(hosts)
            and len(requests) >= 2
            and len(requests) == counters.get(prefix + "upstream_rq_total", 0)
            and not any(counters.get(prefix + name, 0) for name in _UNSEEN_CHOICES)
        ):
            out.append((c.name, hosts, requests + tcp.get(c.name, [])))
    return out


def _round_robin_counts(counts: list) -> bool:
    """Whether per-host counts are what some stretch of the round-robin cycle gives: all within one of
    each other, the larger ones a run of consecutive hosts (wrapping around)."""
    low = min(counts)
    if max(counts) - low > 1:
        return False
    more = [c > low for c in counts]
    starts = sum(1 for i in range(len(more)) if more[i] and not more[i - 1])
    return starts <= 1


def _http_routed(bootstrap) -> set:
    """The names of the clusters some HTTP connection manager's route sends requests to."""
    names: set = set()

    def walk(msg) -> None:
        for field, value in msg.ListFields():
            single = isinstance(value, (str, bytes, int)) or hasattr(value, "ListFields")
            items = [value] if single else value
            if field.type == field.TYPE_MESSAGE:
                for item in items.values() if hasattr(items, "values") else items:  # a map: its values
                    if hasattr(item, "ListFields"):
                        walk(item)
            elif field.name == "cluster" or (field.name == "name" and msg.DESCRIPTOR.name == "ClusterWeight"):
                names.update(items)

    for listener in bootstrap.listeners:
        chains = [*listener.filter_chains, listener.default_filter_chain]
        for chain in chains:
            for f in chain.filters:
                if f.WhichOneof("filter") == "http_connection_manager":
                    walk(f.http_connection_manager)
    return names


def check_round_robin(bootstrap, opened) -> None:
    """`opened`: the endpoint (host, port) of every upstream connection the proxy opened, in order."""
    opened = list(opened)
    if len(opened) < 2:
        return
    for name, position, n in _judged(bootstrap):
        chosen = [position[e] for e in opened if e in position]
        for k, (before, now) in enumerate(zip(chosen, chosen[1:])):
            if now != (before + 1) % n:
                raise InvariantViolation(
                    "model_round_robin_order",
                    f"cluster {name} (ROUND_ROBIN, {n} hosts): its connection {k + 2} went to host {now} "
                    f"after host {before}, not to host {(before + 1) % n} (choices in order: {chosen[:16]})",
                    judged="proxy/upstream/lb.py:RoundRobin.choose",
                    expected=(before + 1) % n,
                    observed=now,
                )
