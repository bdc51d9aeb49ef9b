"""Routing, end to end: every answer the route table may give a request, whatever the random draws.

The matcher is fuzz.targets.route_reference (written from Envoy's route-matching docs; the route
harness compares it with the proxy draw by draw). In sessions the draws are not scripted, so this
module enumerates the branches instead: a route whose runtime fraction is strictly between 0 and
100 may match or be passed over (route.proto RouteMatch.runtime_fraction: "the route matches the
request with the given probability"), and a weighted cluster may pick any cluster of non-zero
weight (WeightedCluster: "the probability of a request being routed to it is weight / total").
"""

import re

from fuzz.targets import route_reference as ref

from . import retry

NO_ROUTE = ("none",)


# Envoy RouteAction.timeout: "Specifies the upstream timeout for the route. If not specified, the
# default is 15s. This spans between the point at which the entire downstream request (i.e.
# end-of-stream) has been processed and when the upstream response has been completely processed";
# 0 disables it (ours: the deadline for the response headers, proxy/http/filters/router.py).
DEFAULT_ROUTE_TIMEOUT_MS = 15_000


def action_timeout_ms(action) -> int:
    """A RouteAction's timeout: its timeout_ms, or Envoy's default when unset (0: none)."""
    return action.timeout_ms if action.HasField("timeout_ms") else DEFAULT_ROUTE_TIMEOUT_MS


def matches(route, request: ref.Request) -> bool:
    """The route's path specifier and every header matcher match `request` (runtime fraction aside)."""
    return ref.path_matches(route.match, request) and all(ref.header_matches(h, request) for h in route.match.headers)


def route_timeouts(route_config, request: ref.Request, cluster: str) -> frozenset:
    """The timeout_ms of every route that may forward `request` to `cluster` (0: none)."""
    vh = ref.choose_virtual_host(route_config, request.authority)
    out = set()
    for route in vh.routes if vh is not None else ():
        if route.WhichOneof("action") != "route" or not matches(route, request):
            continue
        action = route.route
        names = (
            {action.cluster}
            if action.WhichOneof("cluster_specifier") == "cluster"
            else {c.name for c in action.weighted_clusters.clusters}
        )
        if cluster in names:
            out.add(action_timeout_ms(action))
    return frozenset(out)


def retry_policies(route_config, request: ref.Request) -> frozenset:
    """The retry policy (fuzz.models.retry) of every route that may be the one chosen for `request`
    and forwards it to a cluster (the first matching route; one with a runtime fraction below 100
    may be passed over, as in answers())."""
    vh = ref.choose_virtual_host(route_config, request.authority)
    out = set()
    for route in vh.routes if vh is not None else ():
        if not matches(route, request):
            continue
        percent = route.runtime_fraction_percent if route.HasField("runtime_fraction_percent") else 100
        if percent <= 0:
            continue
        if route.WhichOneof("action") == "route":
            out.add(retry.from_route(route.route))
        if percent >= 100:
            break
    return frozenset(out)


def answers(route_config, request: ref.Request) -> frozenset:
    """The possible outcomes: ("cluster", name), ("direct", status, body) or NO_ROUTE (a 404)."""
    vh = ref.choose_virtual_host(route_config, request.authority)
    if vh is None:
        return frozenset([NO_ROUTE])
    out: set[tuple] = set()  # ("cluster", name), ("direct", status, body), NO_ROUTE
    for route in vh.routes:
        if not matches(route, request):
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


_PATH = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_HOST = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=]+(?::[0-9]{1,5})?")
_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
# Fields a request template owns (framing, routing, the peers' request id): never set from a matcher.
_OWNED = frozenset(["host", "content-length", "transfer-encoding", "connection", "te", "upgrade", "x-fuzz-id"])
MAX_TARGETS = 16


def request_targets(route_configs) -> tuple:
    """(hosts, targets) that reach the routes of `route_configs`: hosts as bytes, a concrete one for
    each virtual host's domains (a `*.` suffix domain gets `www`, a `.*` prefix one `com`; `*` any
    host, here example.com); targets as (path, headers, hosts) for each route that may match (runtime
    fraction above 0), its prefix or exact path with header fields that satisfy its header matchers
    (exact and prefix values, `present: true`), and the hosts of its own virtual host, where they are
    a valid authority, origin-form target (RFC 3986) and field (RFC 9110 5.5). Regex paths are left
    to mutation."""
    hosts: list[bytes] = []
    targets: list[tuple] = []
    for rc in route_configs:
        for vh in rc.virtual_hosts:
            own: list[bytes] = []
            for domain in vh.domains:
                host = "example.com" if domain == "*" else domain.replace("*.", "www.").replace(".*", ".com")
                host = host.replace("*", "x")
                if _HOST.fullmatch(host) and host.encode() not in own:
                    own.append(host.encode())
            hosts += [h for h in own if h not in hosts]
            for route in vh.routes:
                if route.HasField("runtime_fraction_percent") and route.runtime_fraction_percent <= 0:
                    continue
                kind = route.match.WhichOneof("path_specifier")
                path = route.match.prefix if kind == "prefix" else route.match.path if kind == "path" else ""
                fields = tuple(_satisfying(h) for h in route.match.headers)
                if not _PATH.fullmatch(path) or None in fields or not own:
                    continue
                target = (path.encode(), tuple(f for f in fields if f), tuple(own))
                if target not in targets:
                    targets.append(target)
    return tuple(hosts[:MAX_TARGETS]), tuple(targets[:MAX_TARGETS])


def fixed_reach(route_configs, paths, hosts) -> float:
    """The largest share, over `route_configs`, of the (path, host) pairs of the fixed tables for
    which a GET reaches a cluster there."""
    text = lambda b: b.decode("latin-1")  # noqa: E731
    pairs = [(text(p), text(h)) for p in paths for h in hosts]
    return max(
        (
            sum(
                any(answer[0] == "cluster" for answer in answers(rc, ref.Request("GET", h, p, (), "http")))
                for p, h in pairs
            )
            / len(pairs)
            for rc in route_configs
        ),
        default=0.0,
    )


def _satisfying(matcher):
    """A (name, value) field that satisfies `matcher`, () when leaving it out does, None if no
    valid field does (or the template owns the field)."""
    kind = matcher.WhichOneof("match")
    if kind == "present" and not matcher.present:
        return ()
    if not _NAME.fullmatch(matcher.name) or matcher.name in _OWNED:
        return None
    value = "1" if kind == "present" else matcher.exact if kind == "exact" else matcher.prefix
    return (matcher.name.encode(), value.encode()) if _VALUE.fullmatch(value) else None
