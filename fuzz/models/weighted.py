"""Weighted clusters of tcp_proxy: which cluster each connection goes to, given the draw it used.

Envoy, tcp_proxy.proto `WeightedCluster`: "Multiple upstream clusters can be specified for a given
route. The request is routed to one of the upstream clusters based on weights assigned to each
cluster"; each cluster gets weight / total weight of the connections. With a scripted draw u in
[0, 1) (fuzz/models/draws.py), that is the cluster whose cumulative interval [w_1 + ... + w_(k-1),
w_1 + ... + w_k) holds floor(u x total): the clusters in configured order, a weight of 0 an empty
interval. A choice among one cluster of positive weight needs no draw.

Judged on the wire: the i-th upstream connection opened goes to an endpoint of the cluster the i-th
draw picks. Only where that pairing is certain: every draw of the instance is a tcp_proxy pick (a
chain whose only random decision is this one) and every pick opened a connection (as many draws as
connections), and each endpoint belongs to one cluster. Fewer draws than connections is a finding in
itself: tcp_proxy makes one connection per pick, so one of them was placed without a draw.
"""

from fuzz.oracles import InvariantViolation


def pick(entries, u: float) -> str:
    """The cluster of ((name, weight), ...) that draw u in [0, 1) selects."""
    total = sum(weight for _, weight in entries)
    point = int(u * total)
    for name, weight in entries:
        if point < weight:
            return name
        point -= weight
    raise ValueError(f"draw {u} outside the weights {entries}")


class WeightedChoice:
    """The tcp_proxy weighted_clusters model of one instance: `entries` ((name, weight), ...) in
    configured order, `endpoints` {(host, port): cluster name}, `draws` the instance's ScriptedRandom."""

    def __init__(self, entries, endpoints: dict, draws) -> None:
        self.entries = tuple(entries)
        self.endpoints = endpoints
        self.draws = draws
        self.judged = 0  # connections judged so far
        self.drawing = sum(1 for _, weight in self.entries if weight > 0) > 1

    def check(self, opened) -> None:
        """`opened`: the instance's upstream connections in the order they were opened."""
        if not self.drawing:
            return
        drawn = [u for _, u in self.draws.drawn]
        if len(drawn) < len(opened):
            # tcp_proxy opens one upstream connection per pick and makes no second attempt, so a
            # connection beyond the draws was sent somewhere without one: not a weighted choice.
            raise InvariantViolation(
                "model_tcp_proxy_weighted_without_draw",
                f"{len(opened)} upstream connections opened, {len(drawn)} draws made among the "
                f"weights {list(self.entries)}: a connection's cluster was chosen without a draw",
                judged="proxy/upstream/lb.py:pick_weighted",
                expected=f">= {len(opened)} draws",
                observed=len(drawn),
            )
        if len(drawn) != len(opened):
            return  # a pick that opened nothing, or a draw of something else: no certain pairing
        for i in range(self.judged, len(opened)):
            got = self.endpoints.get(tuple(opened[i].remote_address))
            want = pick(self.entries, drawn[i])
            if got != want:
                raise InvariantViolation(
                    "model_tcp_proxy_weighted_cluster",
                    f"connection {i}: draw {drawn[i]:.4f} of weights {list(self.entries)} picks {want!r}, "
                    f"tcp_proxy connected to {opened[i].remote_address} ({got!r})",
                    judged="proxy/network/filters/tcp_proxy.py:TcpProxyFilter.on_new_connection",
                    expected=want,
                    observed=got,
                )
        self.judged = len(opened)
