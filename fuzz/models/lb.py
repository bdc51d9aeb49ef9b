"""Load balancing: which host of a cluster each new upstream connection goes to.

Envoy, arch_overview/upstream/load_balancing/load_balancers, "Weighted round robin": "This is a simple
policy in which each available upstream host is selected in round robin order. If weights are assigned
to endpoints in a locality, then a weighted round robin schedule is used". ROUND_ROBIN is the default
lb_policy (envoy/config/cluster/v3/cluster.proto). Our endpoints carry no weight and no health check,
so every host is available and each new connection of a ROUND_ROBIN cluster goes to the host listed
after the one the cluster chose before it, wrapping around (where the cycle starts is not judged).
RANDOM is not judged.

The judge sees connections on the wire, by endpoint: a cluster is judged when no other cluster lists
any of its endpoints and it lists each endpoint once. The connections opened to its endpoints are then
exactly its choices, in the order they were opened (tcp_proxy and the HTTP pools alike).
"""

from fuzz.oracles import InvariantViolation

ROUND_ROBIN = 0  # Cluster.LbPolicy

_JUDGED: dict = {}  # id(bootstrap) -> (bootstrap, [(name, endpoint -> position, host count)])


def _judged(bootstrap) -> list:
    cached = _JUDGED.get(id(bootstrap))
    if cached is None or cached[0] is not bootstrap:
        listed = [[(e.host, e.port) for e in c.endpoints] for c in bootstrap.clusters]
        owners: dict = {}
        for hosts in listed:
            for h in set(hosts):
                owners[h] = owners.get(h, 0) + 1
        judged = [
            (c.name, {h: i for i, h in enumerate(hosts)}, len(hosts))
            for c, hosts in zip(bootstrap.clusters, listed)
            if c.lb_policy == ROUND_ROBIN
            and len(hosts) > 1
            and len(set(hosts)) == len(hosts)
            and all(owners[h] == 1 for h in hosts)
        ]
        if len(_JUDGED) > 512:
            _JUDGED.clear()
        cached = _JUDGED[id(bootstrap)] = (bootstrap, judged)
    return cached[1]


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
