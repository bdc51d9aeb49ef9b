"""A plain reference route matcher, written from bootstrap.proto's comments and Envoy's documented
route-matching semantics, not from proxy/http/route.py. It reads the RouteConfiguration message
directly and answers one request; the route harness compares its answer with the proxy's.

Semantics it implements:
- virtual host by the request's authority (Host / :authority), case-insensitively, the port being
  part of the name: an exact domain first; else the longest `*suffix` wildcard (`*` stands for
  one character or more); else the longest `prefix*` wildcard; else `*`; else no virtual host;
- within the host, the routes in order; the first whose path matcher, header matchers and runtime
  fraction all match wins:
    prefix       the whole :path (query included) starts with it;
    path         :path without its query equals it;
    safe_regex   RE2 syntax (Envoy's RegexMatcher engine, google_re2), the expression matches the
                 whole path without its query (RE2's full match, pattern and path as UTF-8);
    headers      all must match; `exact` compares the value, `prefix` its start, `present` its
                 presence (false: absence); several values of one name count as one joined by ',';
                 `:method`, `:path`, `:authority`, `:scheme` name the pseudo-headers, `host` the authority;
    runtime_fraction_percent  unset or 100: always; otherwise one draw in [0, 100) per evaluated
                 route (after its path and headers matched); the route matches when draw < percent;
- the cluster: `cluster`, or for weighted clusters one draw in [0, total weight) and the first
  cluster whose cumulative weight exceeds the draw (a weight of 0 is never picked);
- a route's timeout is 15 s unless set (0: none); retries as configured.

`draw(n)` is the source of randomness, the same contract as random.Random.randrange(n).
"""

from dataclasses import dataclass

import re2

DEFAULT_TIMEOUT_MS = 15000
PSEUDO = {":method": "method", ":path": "path", ":authority": "authority", ":scheme": "scheme"}


@dataclass(frozen=True)
class Request:
    method: str
    authority: str
    path: str  # query included
    headers: tuple = ()  # ((lowercase name, value), ...)
    scheme: str = "http"


@dataclass(frozen=True)
class Answer:
    route: str  # "<virtual host name>/<route index>"
    cluster: str = ""  # "" for a direct response
    direct_status: int = 0
    direct_body: str = ""
    timeout_ms: int = 0
    num_retries: int = 0


def choose_virtual_host(config, authority: str):
    host = authority.lower()
    exact, suffixes, prefixes, star = None, [], [], None
    for vh in config.virtual_hosts:
        for domain in vh.domains:
            d = domain.lower()
            if d == "*":
                star = star or vh
            elif d == host:
                exact = exact or vh
            elif d.startswith("*"):
                suffixes.append((d[1:], vh))
            elif d.endswith("*"):
                prefixes.append((d[:-1], vh))
    if exact is not None:
        return exact
    fitting = [(len(s), vh) for s, vh in suffixes if host.endswith(s) and len(host) >= len(s) + 1]
    if fitting:
        return max(fitting, key=lambda p: p[0])[1]
    fitting = [(len(p), vh) for p, vh in prefixes if host.startswith(p) and len(host) >= len(p) + 1]
    if fitting:
        return max(fitting, key=lambda p: p[0])[1]
    return star


def header_value(request: Request, name: str):
    if name in PSEUDO:
        return getattr(request, PSEUDO[name])
    if name.startswith(":"):
        return None
    if name == "host":
        return request.authority
    values = [v for n, v in request.headers if n == name]
    return ",".join(values) if values else None


def header_matches(matcher, request: Request) -> bool:
    value = header_value(request, matcher.name)
    kind = matcher.WhichOneof("match")
    if kind == "present":
        return (value is not None) is matcher.present
    if value is None:
        return False
    if kind == "exact":
        return value == matcher.exact
    return value.startswith(matcher.prefix)


def path_matches(match, request: Request) -> bool:
    without_query = request.path.partition("?")[0]
    kind = match.WhichOneof("path_specifier")
    if kind == "prefix":
        return request.path.startswith(match.prefix)
    if kind == "path":
        return without_query == match.path
    return re2.fullmatch(match.safe_regex.regex, without_query) is not None


def weighted_pick(entries, draw) -> str:
    """entries: ((name, weight), ...). The bucket a draw in [0, total) falls into."""
    total = sum(w for _, w in entries)
    point = draw(total)
    upper = 0
    for name, weight in entries:
        upper += weight
        if point < upper:
            return name
    raise AssertionError(f"draw {point} outside [0, {total})")


def match(config, request: Request, draw):
    """The Answer for `request`, or None (no virtual host, or no route in it)."""
    vh = choose_virtual_host(config, request.authority)
    if vh is None:
        return None
    for index, route in enumerate(vh.routes):
        if not path_matches(route.match, request):
            continue
        if not all(header_matches(h, request) for h in route.match.headers):
            continue
        if route.HasField("runtime_fraction_percent") and route.runtime_fraction_percent < 100:
            if draw(100) >= route.runtime_fraction_percent:
                continue
        name = f"{vh.name}/{index}"
        if route.WhichOneof("action") == "direct_response":
            return Answer(name, direct_status=route.direct_response.status, direct_body=route.direct_response.body)
        action = route.route
        if action.WhichOneof("cluster_specifier") == "cluster":
            cluster = action.cluster
        else:
            cluster = weighted_pick([(c.name, c.weight) for c in action.weighted_clusters.clusters], draw)
        timeout = action.timeout_ms if action.HasField("timeout_ms") else DEFAULT_TIMEOUT_MS
        return Answer(name, cluster=cluster, timeout_ms=timeout, num_retries=action.retry_policy.num_retries)
    return None
