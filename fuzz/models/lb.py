"""Load balancing: which host of a cluster each new upstream connection goes to.

Envoy, arch_overview/upstream/load_balancing/load_balancers, "Weighted round robin": "This is a simple
policy in which each available upstream host is selected in round robin order. If weights are assigned
to endpoints in a locality, then a weighted round robin schedule is used". ROUND_ROBIN is the default
lb_policy (envoy/config/cluster/v3/cluster.proto). Our endpoints carry no weight and no health check,
so every host is available and each new connection of a ROUND_ROBIN cluster goes to the host listed
after the one the cluster chose before it, wrapping around (where the cycle starts is not judged).
RANDOM is not judged.

The judge sees connections on the wire, by endpoint: a cluster is judged when no other cluster lists
any of its endpoints, it lists each endpoint once, and no HTTP route names it. The connections opened
to its endpoints are then exactly its choices (one per tcp_proxy connection), in the order they were
opened. An HTTP router's choice is per request, not per connection (Envoy keeps one connection pool
per host and asks the load balancer for each request: a request may take an idle connection to its
host), so the connections of an HTTP cluster are only some of its choices and are not judged here.
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
