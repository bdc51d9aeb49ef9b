"""Routing, end to end: every answer the route table may give a request, whatever the random draws.

The matcher is fuzz.targets.route_reference (written from Envoy's route-matching docs; the route
harness compares it with the proxy draw by draw). In sessions the draws are not scripted, so this
module enumerates the branches instead: a route whose runtime fraction is strictly between 0 and
100 may match or be passed over (route.proto RouteMatch.runtime_fraction: "the route matches the
request with the given probability"), and a weighted cluster may pick any cluster of non-zero
weight (WeightedCluster: "the probability of a request being routed to it is weight / total").
"""

from fuzz.targets import route_reference as ref

from . import retry

NO_ROUTE = ("none",)


# Envoy RouteAction.timeout: "Specifies the upstream timeout for the route. If not specified, the
# default is 15s. This spans between the point at which the entire downstream request (i.e.
# end-of-stream) has been processed and when the upstream response has been completely processed";
# 0 disables it (ours: the deadline for the response headers, proxy/http/filters/router.py).
DEFAULT_ROUTE_TIMEOUT_MS = 15_000


def route_timeouts(route_config, request: ref.Request, cluster: str) -> frozenset:
    """The timeout_ms of every route that may forward `request` to `cluster` (0: none)."""
    vh = ref.choose_virtual_host(route_config, request.authority)
    out = set()
    for route in vh.routes if vh is not None else ():
        if (
            route.WhichOneof("action") != "route"
            or not ref.path_matches(route.match, request)
            or not all(ref.header_matches(h, request) for h in route.match.headers)
        ):
            continue
        action = route.route
        names = (
            {action.cluster}
            if action.WhichOneof("cluster_specifier") == "cluster"
            else {c.name for c in action.weighted_clusters.clusters}
        )
        if cluster in names:
            out.add(action.timeout_ms if action.HasField("timeout_ms") else DEFAULT_ROUTE_TIMEOUT_MS)
    return frozenset(out)


def retry_policies(route_config, request: ref.Request) -> frozenset:
    """The retry policy (fuzz.models.retry) of every route that may forward `request` to a cluster."""
    vh = ref.choose_virtual_host(route_config, request.authority)
    return frozenset(
        retry.from_route(route.route)
        for route in (vh.routes if vh is not None else ())
        if route.WhichOneof("action") == "route"
        and ref.path_matches(route.match, request)
        and all(ref.header_matches(h, request) for h in route.match.headers)
    )


def answers(route_config, request: ref.Request) -> frozenset:
    """The possible outcomes: ("cluster", name), ("direct", status, body) or NO_ROUTE (a 404)."""
    vh = ref.choose_virtual_host(route_config, request.authority)
    if vh is None:
        return frozenset([NO_ROUTE])
    out: set[tuple] = set()  # ("cluster", name), ("direct", status, body), NO_ROUTE
    for route in vh.routes:
        if not ref.path_matches(route.match, request):
            continue
        if not all(ref.header_matches(h, request) for h in route.match.headers):
            continue
        percent = route.runtime_fraction_percent if route.HasField("runtime_fraction_percent") else 100
        if percent <= 0:
            continue
        if route.WhichOneof("action") == "direct_response":
            out.add(("direct", route.direct_response.status, route.direct_response.body))
        elif route.route.WhichOneof("cluster_specifier") == "cluster":
            out.add(("cluster", route.route.cluster))
        else:
            out.update(("cluster", c.name) for c in route.route.weighted_clusters.clusters if c.weight)
        if percent >= 100:
            return frozenset(out)
    out.add(NO_ROUTE)
    return frozenset(out)
