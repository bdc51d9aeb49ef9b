"""The route table: which virtual host, which route, which cluster (or which direct response).

Virtual hosts are chosen by the request's authority (Host / :authority, lowercased, port
included as sent) with Envoy's precedence, whatever the configuration order:
  1. an exact domain;
  2. the longest `*.suffix` / `*suffix` wildcard whose suffix ends the authority (the wildcard
     stands for at least one character);
  3. the longest `prefix.*` / `prefix*` wildcard whose prefix starts it;
  4. `*`.
Within a virtual host the first route that matches wins:
  prefix       the path (query included) starts with it;
  path         the path without its query equals it;
  safe_regex   the path without its query (its bytes, read as UTF-8) matches the whole RE2
               expression (RE2::FullMatch, as Envoy's RegexMatcher);
  headers      every matcher matches (exact value / prefix / present or absent; pseudo-headers
               such as `:method` may be named; several values count as one joined by ',');
  runtime_fraction_percent  the route then matches only that share of requests, drawn from the
               instance's seeded random (deterministic under a seed): the A/B split.
No virtual host or no route: None (the router answers 404).

Weighted clusters are drawn from the same random source, in proportion to their weights.
"""

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..safe_regex import RegexRefused, compile_route_regex
from ..upstream.lb import pick_weighted

DEFAULT_ROUTE_TIMEOUT_MS = 15000


class RouteBuildError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class HeaderMatcher:
    name: bytes
    kind: str  # "exact" | "prefix" | "present"
    value: bytes = b""
    present: bool = True

    def matches(self, head) -> bool:
        actual = head.header_value(self.name)
        if self.kind == "present":
            return (actual is not None) == self.present
        if actual is None:
            return False
        if self.kind == "exact":
            return actual == self.value
        return actual.startswith(self.value)


@dataclass(frozen=True)
class Route:
    name: str  # "<virtual host>/<index>", for logs
    kind: str  # "prefix" | "path" | "regex"
    pattern: bytes
    regex: Any  # kind "regex": the RE2 program (proxy.safe_regex), over bytes
    headers: tuple  # HeaderMatcher
    fraction_percent: int  # 100: always
    clusters: tuple  # ((name, weight), ...) with weight > 0; empty for a direct response
    total_weight: int
    timeout_ms: int  # 0: none
    num_retries: int
    direct_status: int = 0  # non-zero: a direct response
    direct_body: bytes = b""

    @property
    def is_direct(self) -> bool:
        return self.direct_status != 0

    def path_matches(self, head) -> bool:
        if self.kind == "prefix":
            return head.path.startswith(self.pattern)
        if self.kind == "path":
            return head.path_only == self.pattern
        # The path's bytes against the pattern's UTF-8, as Envoy hands RE2 the header's bytes
        # (targets are ASCII once the codecs accepted them).
        assert self.regex is not None, "compiled for every regex route"
        return self.regex.fullmatch(head.path_only) is not None

    def pick_cluster(self, rng) -> str:
        return pick_weighted(self.clusters, self.total_weight, rng)


@dataclass(frozen=True)
class VirtualHost:
    name: str
    routes: tuple

    def match(self, head, rng):
        for route in self.routes:
            if not route.path_matches(head):
                continue
            if route.headers and not all(m.matches(head) for m in route.headers):
                continue
            if route.fraction_percent < 100 and rng.randrange(100) >= route.fraction_percent:
                continue
            return route
        return None


@dataclass(frozen=True)
class RouteTable:
    exact: MappingProxyType  # domain -> VirtualHost
    suffixes: tuple  # (suffix, VirtualHost), longest suffix first
    prefixes: tuple  # (prefix, VirtualHost), longest prefix first
    catch_all: object  # VirtualHost | None

    def virtual_host(self, authority: bytes):
        host = authority.decode("latin-1").lower()
        vh = self.exact.get(host)
        if vh is not None:
            return vh
        for suffix, vh in self.suffixes:
            if len(host) > len(suffix) and host.endswith(suffix):
                return vh
        for prefix, vh in self.prefixes:
            if len(host) > len(prefix) and host.startswith(prefix):
                return vh
        return self.catch_all

    def match(self, head, rng):
        """The route for a RequestHead, or None (no virtual host or no route: 404)."""
        vh = self.virtual_host(head.authority)
        return vh.match(head, rng) if vh is not None else None


def build_route_table(msg, cluster_names, path: str = "route_config") -> RouteTable:
    """From a validated RouteConfiguration. Raises RouteBuildError naming the field."""
    exact, suffixes, prefixes, catch_all = {}, [], [], None
    seen: dict[str, str] = {}
    for i, vh_msg in enumerate(msg.virtual_hosts):
        vh_path = f"{path}.virtual_hosts[{i}]"
        routes = tuple(
            _build_route(r, f"{vh_path}.routes[{j}]", f"{vh_msg.name}/{j}", cluster_names)
            for j, r in enumerate(vh_msg.routes)
        )
        vh = VirtualHost(vh_msg.name, routes)
        for k, domain in enumerate(vh_msg.domains):
            domain = domain.lower()
            if domain in seen:
                raise RouteBuildError(
                    f"{vh_path}.domains[{k}]", f"domain {domain!r} is also listed by virtual host {seen[domain]!r}"
                )
            seen[domain] = vh_msg.name
            if domain == "*":
                catch_all = vh
            elif domain.startswith("*"):
                suffixes.append((domain[1:], vh))
            elif domain.endswith("*"):
                prefixes.append((domain[:-1], vh))
            else:
                exact[domain] = vh
    suffixes.sort(key=lambda p: -len(p[0]))
    prefixes.sort(key=lambda p: -len(p[0]))
    return RouteTable(
        exact=MappingProxyType(exact), suffixes=tuple(suffixes), prefixes=tuple(prefixes), catch_all=catch_all
    )


def _build_route(msg, path: str, name: str, cluster_names) -> Route:
    match = msg.match
    kind = match.WhichOneof("path_specifier")
    regex = None
    if kind == "prefix":
        pattern = match.prefix.encode()
    elif kind == "path":
        pattern = match.path.encode()
    elif kind == "safe_regex":
        kind, pattern = "regex", match.safe_regex.regex
        try:
            regex = compile_route_regex(pattern)
        except RegexRefused as exc:
            raise RouteBuildError(f"{path}.match.safe_regex.regex", str(exc)) from None
    else:
        raise RouteBuildError(f"{path}.match", "one of prefix, path or safe_regex is required")
    headers = tuple(_header_matcher(h, f"{path}.match.headers[{k}]") for k, h in enumerate(match.headers))
    fraction = msg.runtime_fraction_percent if msg.HasField("runtime_fraction_percent") else 100
    action = msg.WhichOneof("action")
    common = dict(name=name, kind=kind, pattern=pattern, regex=regex, headers=headers, fraction_percent=fraction)
    if action == "direct_response":
        dr = msg.direct_response
        return Route(
            clusters=(),
            total_weight=0,
            timeout_ms=0,
            num_retries=0,
            direct_status=dr.status,
            direct_body=dr.body.encode(),
            **common,
        )
    if action != "route":
        raise RouteBuildError(path, "one of route or direct_response is required")
    ra = msg.route
    if ra.WhichOneof("cluster_specifier") == "weighted_clusters":
        weighted = tuple((w.name, w.weight) for w in ra.weighted_clusters.clusters)
        field = f"{path}.route.weighted_clusters.clusters"
    else:
        weighted = ((ra.cluster, 1),)
        field = f"{path}.route.cluster"
    for k, (cluster, _) in enumerate(weighted):
        if cluster not in cluster_names:
            where = f"{field}[{k}].name" if len(weighted) > 1 or field.endswith("clusters") else field
            raise RouteBuildError(where, f"unknown cluster {cluster!r}")
    total = sum(w for _, w in weighted)
    if total <= 0:
        raise RouteBuildError(field, "the weights must not all be 0")
    timeout = ra.timeout_ms if ra.HasField("timeout_ms") else DEFAULT_ROUTE_TIMEOUT_MS
    return Route(
        clusters=tuple((n, w) for n, w in weighted if w > 0),
        total_weight=total,
        timeout_ms=timeout,
        num_retries=ra.retry_policy.num_retries,
        **common,
    )


def _header_matcher(msg, path: str) -> HeaderMatcher:
    kind = msg.WhichOneof("match")
    name = msg.name.lower().encode()
    if kind == "exact":
        return HeaderMatcher(name, "exact", msg.exact.encode())
    if kind == "prefix":
        return HeaderMatcher(name, "prefix", msg.prefix.encode())
    if kind == "present":
        return HeaderMatcher(name, "present", present=msg.present)
    raise RouteBuildError(f"{path}", "one of exact, prefix or present is required")
