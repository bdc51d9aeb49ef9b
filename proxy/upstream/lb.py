"""Load balancers: choose one host of a cluster for each new upstream connection, and
`pick_weighted`, the choice among weighted clusters that routes and tcp_proxy share.

A load balancer is per server instance (it holds the round-robin position); the
hosts it chooses from are immutable and come from the built configuration.
Randomness comes only from the instance's seeded `random.Random`, so a run is
reproducible from its seed.
"""


class RoundRobin:
    __slots__ = ("hosts", "_next")

    def __init__(self, hosts) -> None:
        if not hosts:
            raise ValueError("a load balancer needs at least one host")
        self.hosts = tuple(hosts)
        self._next = 0

    def choose(self):
        host = self.hosts[self._next]
        self._next = (self._next + 1) % len(self.hosts)
        return host


class Random:
    __slots__ = ("hosts", "_rng")

    def __init__(self, hosts, rng) -> None:
        if not hosts:
            raise ValueError("a load balancer needs at least one host")
        self.hosts = tuple(hosts)
        self._rng = rng

    def choose(self):
        return self.hosts[self._rng.randrange(len(self.hosts))]


def pick_weighted(clusters, total_weight: int, rng) -> str:
    """A name from ((name, weight), ...), each with probability weight / total_weight (the sum
    of the weights, all > 0): a uniform point in [0, total) falls in one bucket per cluster."""
    if len(clusters) == 1:
        return clusters[0][0]
    point = rng.randrange(total_weight)
    for name, weight in clusters:
        if point < weight:
            return name
        point -= weight
    raise AssertionError("unreachable: total_weight is the sum of the weights")


def make_load_balancer(policy: str, hosts, rng):
    """`policy` is "round_robin" or "random" (Cluster.LbPolicy, lower case)."""
    if policy == "round_robin":
        return RoundRobin(hosts)
    if policy == "random":
        return Random(hosts, rng)
    raise ValueError(f"unknown load balancing policy {policy!r}")
