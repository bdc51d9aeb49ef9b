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
choice can have gone unseen but those a connect failure ended (no pending or request overflow, no
request cancelled while pending, no connection refused by max_connections, whose request
docs/semantics.md lets take another host's connection). upstream_rq_total counts a request once it
is attached to a connected upstream connection (Envoy's attachStreamToClient), so an attempt whose
connection was refused or timed out is not in it: it is one of upstream_rq_pending_failure_eject,
and its host is one whose connection failed (only a connection to its host serves a request). Those
choices are placed where the cycle needs them, on hosts with a failed connection. A tcp_proxy using
the same cluster takes turns in the same cycle: each upstream connection it opened is one more choice.
"""

from fuzz.oracles import InvariantViolation

from .config_walk import connection_managers

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


# Counters that move when a request's host choice can go unseen by the upstreams and its host is not
# known (or, for upstream_cx_overflow, when its request may be served by another host's connection).
_UNSEEN_CHOICES = (
    "upstream_rq_pending_overflow",
    "upstream_rq_overflow",
    "upstream_cx_overflow",
    "upstream_rq_cancelled",
)


def check_round_robin_requests(bootstrap, counters, seen, tcp_choices=(), failed=()) -> None:
    """`seen`: (cluster name, endpoint) of every request an upstream read (a retry's too), in any order;
    `tcp_choices`: (cluster name, endpoint) of every upstream connection tcp_proxy opened; `failed`:
    (cluster name, endpoint) of every HTTP pool connection that never connected."""
    for name, hosts, requests, unseen in judged_requests(bootstrap, counters, seen, tcp_choices, failed):
        counts = [requests.count(h) for h in hosts]
        open_to = [h in unseen.hosts for h in hosts]
        if _round_robin_counts(counts, unseen.count, open_to):
            continue
        k, n = len(requests) + unseen.count, len(hosts)
        lost = f" and {unseen.count} failed to connect to hosts {sorted(unseen.hosts)}" if unseen.count else ""
        raise InvariantViolation(
            "model_round_robin_requests",
            f"cluster {name} (ROUND_ROBIN, {n} hosts): its {len(requests)} requests seen went {counts} to its "
            f"hosts in order{lost}; round robin gives each {k // n} or {k // n + 1}, the larger share to "
            "consecutive hosts",
            judged="proxy/upstream/pool.py:ClusterHttpPool.new_stream",
            expected=f"{k // n} or {k // n + 1} per host",
            observed=counts,
        )


class Unseen:
    """The choices of a cluster no upstream saw, each a request a connect failure ended: how many, and
    the hosts they may have gone to (those with a connection that never connected)."""

    __slots__ = ("count", "hosts")

    def __init__(self, count: int, hosts: frozenset) -> None:
        self.count, self.hosts = count, hosts


def judged_requests(bootstrap, counters, seen, tcp_choices=(), failed=()) -> list:
    """(cluster name, its hosts in order, the endpoint of each of its seen choices: requests and
    tcp_proxy connections, its Unseen) of every cluster whose choices check_round_robin_requests judges
    (two or more, two requests among them, every choice seen or ended by a connect failure)."""
    per_cluster: dict = {}
    for cluster, endpoint in seen:
        per_cluster.setdefault(cluster, []).append(tuple(endpoint))
    tcp: dict = {}
    for cluster, endpoint in tcp_choices:
        tcp.setdefault(cluster, []).append(tuple(endpoint))
    refused: dict = {}
    for cluster, endpoint in failed:
        refused.setdefault(cluster, set()).add(tuple(endpoint))
    out = []
    for c in bootstrap.clusters:
        hosts = [(e.host, e.port) for e in c.endpoints]
        requests = per_cluster.get(c.name, [])
        prefix = f"cluster.{c.name}."
        unseen = Unseen(
            counters.get(prefix + "upstream_rq_pending_failure_eject", 0), frozenset(refused.get(c.name, ()))
        )
        if (
            c.lb_policy == ROUND_ROBIN
            and len(hosts) >= 2
            and len(set(hosts)) == len(hosts)
            and len(requests) >= 2
            and len(requests) == counters.get(prefix + "upstream_rq_total", 0)
            and not any(counters.get(prefix + name, 0) for name in _UNSEEN_CHOICES)
            and (unseen.hosts or not unseen.count)
        ):
            out.append((c.name, hosts, requests + tcp.get(c.name, []), unseen))
    return out


def _round_robin_counts(counts: list, unseen: int = 0, open_to=None) -> bool:
    """Whether per-host counts, with `unseen` more choices placed on hosts whose `open_to` is true,
    are what some stretch of the round-robin cycle gives: all within one of each other, the larger
    ones a run of consecutive hosts (wrapping around)."""
    n = len(counts)
    total = sum(counts) + unseen
    low, extra = divmod(total, n)
    for start in range(n):
        target = [low + ((i - start) % n < extra) for i in range(n)]
        if all(
            t >= c and (t == c or (open_to is not None and open_to[i])) for i, (t, c) in enumerate(zip(target, counts))
        ):
            return True
    return False


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

    for hcm in connection_managers(bootstrap):
        walk(hcm)
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
