"""The route harness: a route table and a request; the proxy's choice must equal a plain reference's.

Input layout:
    byte 0        format: even = structured (tables below, built into a RouteConfiguration),
                  odd = binary protobuf (2 length bytes, then a serialized RouteConfiguration)
    ...           the configuration, then the request: method, authority, path, headers
    rest          the random draws both matchers get (runtime fractions, weighted clusters):
                  2 bytes each; a first byte >= 0x80 picks one of the configuration's boundary
                  values (cumulative weight c-1 or c, fraction p-1 or p), else a plain value

The configuration is validated like any (rules + semantic checks); invalid ones return early, and
one that validates but does not build is a validation gap: a crash. Built tables are cached (they
are immutable). Oracles: proxy.http.route's answer (route, cluster or direct response, timeout,
retries) equals fuzz.targets.route_reference's for the same draws; and for a chosen weighted route,
every boundary draw picks the same cluster in both (the off-by-one bucket check).

Regexes are RE2's (Envoy's safe_regex engine) in the proxy and in the reference alike: matching is
linear in the path, so any pattern that validates is fuzzed, nested repeats included.
"""

from dataclasses import dataclass

from proxy.config import schema
from proxy.config.semantic import check_semantics
from proxy.config.validate import check_rules
from proxy.http.message import HeaderMap, RequestHead
from proxy.http.route import RouteBuildError, build_route_table

from fuzz import oracles
from fuzz.memo import Memo
from fuzz.session import Reader
from fuzz.targets import route_reference as ref

MAX_CONFIG = 4096
MAX_DRAWS = 64
_CACHE = Memo(256)

# Token tables: values that make domains, authorities, paths and headers collide often.
DOMAINS = (
    "*",
    "example.com",
    "*.example.com",
    "*example.com",
    "api.example.com",
    "*.api.example.com",
    "api.*",
    "api.example.*",
    "api*",
    "localhost",
    "localhost:8080",
    "localhost:*",
    "127.0.0.1:10040",
    "*.com",
    "www.example.com",
    "EXAMPLE.com",
    "a",
    "*a",
    "a*",
    "*.a",
    "example.com:80",
)
AUTHORITIES = (
    "example.com",
    "api.example.com",
    "v1.api.example.com",
    "www.example.com",
    "EXAMPLE.COM",
    "Api.Example.Com",
    "localhost",
    "localhost:8080",
    "localhost:9",
    "127.0.0.1:10040",
    "api.other",
    "api.example.org",
    "a",
    "aa",
    "",
    ".example.com",
    "example.com:80",
    "x.com",
    "api.",
)
PATHS = (
    "/",
    "/a",
    "/ab",
    "/abc",
    "/api",
    "/api/",
    "/api/v1",
    "/v1/items",
    "/v12/items",
    "/v/items",
    "/static/x.css",
    "/healthz",
    "/h",
    "/exact",
    "/exact/",
    "/Exact",
    "/ab?x=1",
    "/exact?q",
    "/search?q=proxy&lang=en",
    "/v1/items?x",
    "//",
    "/%2e%2e/",
    "/v1/",
    "*",
)
PREFIXES = ("/", "/a", "/ab", "/api", "/api/", "/v1", "/static/", "/h", "/exact", "/ab?x", "/search?", "/v1/items")
EXACT_PATHS = ("/", "/exact", "/healthz", "/api", "/ab", "/v1/items", "/search", "/exact/")
REGEXES = (
    "/v[0-9]+/items",
    "^/v[0-9]+/.*$",
    "/v[0-9]+",
    "/api/.*",
    ".*",
    "/a.",
    "/[a-z]+",
    "/ab|/h",
    "(/ab)?",
    "/exact/?",
    "/v1",
    "/(?:x|y)z",
    "/[^/]*",
    "/a+b*c?",
    "/v1/items",
    "/a",
    "/(ab|abc)",
)
HEADER_NAMES = (
    ":method",
    ":path",
    ":authority",
    ":scheme",
    "host",
    "x-canary",
    "x-debug",
    "user-agent",
    "accept",
    "cookie",
    ":unknown",
)
VALUES = (
    "",
    "yes",
    "no",
    "GET",
    "POST",
    "DELETE",
    "/",
    "/ab",
    "example.com",
    "curl/8.5.0",
    "*/*",
    "a=1",
    "a=1,b=2",
    "http",
    "y",
    "a",
)
METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PURGE")
WEIGHTS = (0, 1, 2, 3, 10, 50, 90, 99, 100, 9999, 10000)
STATUSES = (200, 204, 301, 404, 418, 503, 599)
CLUSTERS = ("c0", "c1", "c2", "c3")

# Raw strings (a table byte >= RAW) are spelled from these alphabets.
DOMAIN_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.:-AEX_"
PATH_CHARS = "/abcehimstvxyz0123456789?=&.%-_~"
REGEX_CHARS = "/abv019.*+?[](){}|^$\\-:"
TOKEN_CHARS = "abcdexyz-"
RAW = 232


class Invalid(Exception):
    """The input's configuration does not validate (or is outside the harness's bounds)."""


# ---------------------------------------------------------------------------------------------
# Decoding


def _pick(r: Reader, table, chars: str, lead: str = "") -> str:
    """A table entry, or (a byte >= RAW) a raw string spelled from `chars` after `lead`;
    an empty raw string reads as the table's first entry."""
    b = r.int(1, 256)
    if b < RAW:
        return table[b % len(table)]
    raw = "".join(chars[x % len(chars)] for x in r.bytes(b - RAW))
    return lead + raw if raw else table[0]


def structured_config(r: Reader):
    """A RouteConfiguration from table-driven choices (built to satisfy most rules)."""
    config = schema.RouteConfiguration()
    used = set()
    for v in range(1 + r.int(1, 4)):
        vh = config.virtual_hosts.add(name=f"v{v}")
        for _ in range(1 + r.int(1, 3)):
            domain = _pick(r, DOMAINS, DOMAIN_CHARS)
            if domain.lower() not in used:
                used.add(domain.lower())
                vh.domains.append(domain)
        if not vh.domains:
            vh.domains.append(f"host{v}.invalid")
        for _ in range(r.int(1, 6)):
            _structured_route(r, vh.routes.add())
    return config


def _structured_route(r: Reader, route) -> None:
    kind = r.int(1, 3)
    if kind == 0:
        route.match.prefix = _pick(r, PREFIXES, PATH_CHARS, "/")
    elif kind == 1:
        route.match.path = _pick(r, EXACT_PATHS, PATH_CHARS, "/")
    else:
        route.match.safe_regex.regex = _pick(r, REGEXES, REGEX_CHARS)
    for _ in range(r.int(1, 3)):
        h = route.match.headers.add(name=_pick(r, HEADER_NAMES, TOKEN_CHARS))
        how = r.int(1, 4)
        if how == 0:
            h.exact = _pick(r, VALUES, TOKEN_CHARS)
        elif how == 1:
            h.prefix = _pick(r, VALUES, TOKEN_CHARS) or "a"
        else:
            h.present = how == 2
    fraction = r.int(1, 256)
    if fraction >= 128:
        route.runtime_fraction_percent = (fraction - 128) % 101
    action = r.int(1, 4)
    if action == 0:
        route.direct_response.status = STATUSES[r.int(1, len(STATUSES))]
        route.direct_response.body = ("", "ok\n", "moved")[r.int(1, 3)]
    elif action == 1:
        route.route.cluster = CLUSTERS[r.int(1, len(CLUSTERS))]
    else:
        for i in range(1 + r.int(1, len(CLUSTERS))):
            route.route.weighted_clusters.clusters.add(name=CLUSTERS[i], weight=WEIGHTS[r.int(1, len(WEIGHTS))])
        if not any(c.weight for c in route.route.weighted_clusters.clusters):
            route.route.weighted_clusters.clusters[0].weight = 1
    extras = r.int(1, 4)
    if action and extras & 1:
        route.route.timeout_ms = (0, 1, 5000, 15000)[r.int(1, 4)]
    if action and extras & 2:
        route.route.retry_policy.num_retries = r.int(1, 6)


def request_from(r: Reader) -> ref.Request:
    method = METHODS[r.int(1, len(METHODS))]
    authority = _pick(r, AUTHORITIES, DOMAIN_CHARS)
    path = _pick(r, PATHS, PATH_CHARS, "/")
    headers = []
    for _ in range(r.int(1, 4)):
        name = _pick(r, HEADER_NAMES[4:], TOKEN_CHARS)
        headers.append((name, _pick(r, VALUES, TOKEN_CHARS)))
    return ref.Request(method=method, authority=authority, path=path, headers=tuple(headers))


def head_for(request: ref.Request) -> RequestHead:
    enc = lambda s: s.encode("latin-1")  # noqa: E731
    return RequestHead(
        enc(request.method),
        enc(request.path),
        enc(request.authority),
        enc(request.scheme),
        HeaderMap([(enc(n), enc(v)) for n, v in request.headers]),
    )


# ---------------------------------------------------------------------------------------------
# Draws


def boundaries(config) -> tuple:
    """The draw values at which a weighted pick or a runtime fraction changes its answer."""
    points: set[int] = set()
    for vh in config.virtual_hosts:
        for route in vh.routes:
            if route.HasField("runtime_fraction_percent"):
                points.update((route.runtime_fraction_percent - 1, route.runtime_fraction_percent))
            if (
                route.WhichOneof("action") == "route"
                and route.route.WhichOneof("cluster_specifier") == "weighted_clusters"
            ):
                upper = 0
                for c in route.route.weighted_clusters.clusters:
                    upper += c.weight
                    points.update((upper - 1, upper))
    return tuple(sorted(p for p in points if p >= 0))


class ScriptedRandom:
    """randrange(n) from a script of draws; both matchers get a fresh one over the same script."""

    def __init__(self, script: bytes, points: tuple) -> None:
        self.script, self.points, self.pos = script, points, 0
        self.drawn: list = []

    def randrange(self, n: int) -> int:
        pair = self.script[self.pos : self.pos + 2].ljust(2, b"\0")
        self.pos += 2
        if pair[0] >= 0x80 and self.points:
            value = self.points[(pair[0] & 0x7F) % len(self.points)] % n
        else:
            value = int.from_bytes(pair, "big") % n
        self.drawn.append((n, value))
        return value


class Fixed:
    def __init__(self, value: int) -> None:
        self.value = value

    def randrange(self, n: int) -> int:
        return self.value


# ---------------------------------------------------------------------------------------------
# Configuration: validation, build (cached)


def referenced_clusters(config) -> set:
    names = set()
    for vh in config.virtual_hosts:
        for route in vh.routes:
            if route.WhichOneof("action") != "route":
                continue
            if route.route.WhichOneof("cluster_specifier") == "cluster":
                names.add(route.route.cluster)
            else:
                names.update(c.name for c in route.route.weighted_clusters.clusters)
    return names


def bootstrap_for(config):
    """A Bootstrap serving `config` from one HTTP listener, with every cluster it names."""
    boot = schema.Bootstrap()
    listener = boot.listeners.add(name="l0")
    listener.address.host, listener.address.port = "127.0.0.1", 10000
    listener.filter_chains.add().filters.add().http_connection_manager.route_config.CopyFrom(config)
    for i, name in enumerate(sorted(referenced_clusters(config))):
        c = boot.clusters.add(name=name)
        c.endpoints.add(host="127.0.0.1", port=9000 + i)
    return boot


def table_for(config):
    """(config, RouteTable, boundary points), cached by the configuration's bytes."""
    key = config.SerializeToString(deterministic=True)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    boot = bootstrap_for(config)
    if check_rules(boot) or check_semantics(boot):
        raise Invalid("configuration does not validate")
    try:
        table = build_route_table(config, referenced_clusters(config))
    except RouteBuildError as exc:
        raise oracles.InvariantViolation("validated_route_config_does_not_build", str(exc)) from None
    return _CACHE.put(key, (config, table, boundaries(config)))


def config_from(r: Reader):
    if r.int(1, 2) == 0:
        return structured_config(r)
    blob = r.bytes(r.int(2, MAX_CONFIG + 1))
    config = schema.RouteConfiguration()
    try:
        config.ParseFromString(blob)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends: not a message
        raise Invalid(str(exc)) from None
    return config


# ---------------------------------------------------------------------------------------------
# The oracle


@dataclass(frozen=True)
class Outcome:
    config: object
    request: ref.Request
    answer: ref.Answer | None  # as the proxy decided
    draws: tuple


def proxy_answer(table, head, rng):
    route = table.match(head, rng)
    if route is None:
        return None
    if route.is_direct:
        return route, ref.Answer(
            route.name,
            direct_status=route.direct_status,
            direct_body=route.direct_body.decode("utf-8", "surrogateescape"),
        )
    return route, ref.Answer(
        route.name, cluster=route.pick_cluster(rng), timeout_ms=route.timeout_ms, num_retries=route.num_retries
    )


def check_boundaries(route, config_route) -> None:
    """Every boundary draw of a weighted route picks the same cluster as the reference's bucket."""
    entries = [(c.name, c.weight) for c in config_route.route.weighted_clusters.clusters]
    total = sum(w for _, w in entries)
    upper, points = 0, {0, total - 1}
    for _, w in entries:
        upper += w
        points.update((upper - 1, upper))
    for point in sorted(p for p in points if 0 <= p < total):
        got = route.pick_cluster(Fixed(point))
        want = ref.weighted_pick(entries, lambda n, point=point: point)
        if got != want:
            raise oracles.InvariantViolation(
                "weighted_cluster_bucket", f"draw {point} of weights {entries}: proxy picks {got!r}, reference {want!r}"
            )


def _config_route(config, name: str):
    vh_name, _, index = name.rpartition("/")
    vh = next(v for v in config.virtual_hosts if v.name == vh_name)
    return vh.routes[int(index)]


def run(data: bytes) -> Outcome | None:
    r = Reader(data)
    try:
        config = config_from(r)
        config, table, points = table_for(config)
    except Invalid:
        return None
    request = request_from(r)
    script = r.bytes(2 * MAX_DRAWS)
    rng = ScriptedRandom(script, points)
    got = proxy_answer(table, head_for(request), rng)
    want = ref.match(config, request, ScriptedRandom(script, points).randrange)
    answer = got[1] if got else None
    if answer != want:
        raise oracles.InvariantViolation(
            "route_differs_from_reference", f"request {request}: proxy {answer}, reference {want} (draws {rng.drawn})"
        )
    if got is not None and not got[0].is_direct:
        config_route = _config_route(config, got[0].name)
        if config_route.route.WhichOneof("cluster_specifier") == "weighted_clusters":
            check_boundaries(got[0], config_route)
    return Outcome(config, request, answer, tuple(rng.drawn))


# ---------------------------------------------------------------------------------------------
# Seeds


def encode_protobuf_input(config, request: ref.Request, draws: bytes = b"") -> bytes:
    """An input in the protobuf format: the config's bytes, then the request spelled as raw strings."""
    blob = config.SerializeToString(deterministic=True)
    return b"\x01" + len(blob).to_bytes(2, "big") + blob + encode_request(request) + draws


def _raw(text: str, table, chars: str, lead: str = "") -> bytes:
    """The bytes `_pick` reads back as `text`: its table index, else a raw string."""
    if text in table:
        return bytes([table.index(text)])
    body = text[len(lead) :]
    if not text.startswith(lead) or not body or len(body) > 255 - RAW or any(ch not in chars for ch in body):
        raise ValueError(f"{text!r} cannot be spelled from the harness's alphabet")
    return bytes([RAW + len(body)]) + bytes(chars.index(ch) for ch in body)


def encode_request(request: ref.Request) -> bytes:
    if len(request.headers) > 3:
        raise ValueError("at most 3 request headers")
    out = bytes([METHODS.index(request.method)]) + _raw(request.authority, AUTHORITIES, DOMAIN_CHARS)
    out += _raw(request.path, PATHS, PATH_CHARS, "/") + bytes([len(request.headers)])
    for name, value in request.headers:
        out += _raw(name, HEADER_NAMES[4:], TOKEN_CHARS) + _raw(value, VALUES, TOKEN_CHARS)
    return out


SEED_REQUESTS = (
    ref.Request("GET", "example.com", "/", (("user-agent", "curl/8.5.0"), ("accept", "*/*"))),
    ref.Request("GET", "127.0.0.1:10040", "/healthz", (("user-agent", "curl/8.5.0"),)),
    ref.Request("GET", "localhost:8080", "/ab", (("user-agent", "curl/8.5.0"),)),
    ref.Request("DELETE", "www.example.com", "/", (("user-agent", "curl/8.5.0"),)),
    ref.Request("GET", "api.example.com", "/v12/items", (("accept", "*/*"),)),
    ref.Request("POST", "example.com", "/search?q=proxy&lang=en", (("x-canary", "yes"),)),
    ref.Request("HEAD", "EXAMPLE.COM", "/static/x.css", ()),
)
# Draw scripts: none (all zero), each of the first boundary points twice, and plain mid values.
SEED_DRAWS = (
    b"",
    b"\x80\x00\x80\x00",
    b"\x81\x00\x81\x00",
    b"\x82\x00\x82\x00",
    b"\x83\x00\x83\x00",
    b"\x00\x31\x00\x31",
    b"\x00\x59\x00\x09",
)


def repeated_header_seeds() -> list:
    """Header matchers (exact, prefix, present) against requests that repeat the matched header, in
    both orders: the values count as one, joined by ',' (route.py; Envoy since CVE-2020-25017, when
    only the first value was matched and a client could add one to reach a route)."""
    config = schema.RouteConfiguration()
    vhost = config.virtual_hosts.add(name="all", domains=["*"])
    for i, (name, how, value) in enumerate((("x-canary", "exact", "yes"), ("x-debug", "prefix", "no"))):
        route = vhost.routes.add()
        route.match.prefix = "/"
        setattr(route.match.headers.add(name=name), how, value)
        route.route.cluster = CLUSTERS[i]
    vhost.routes.add().match.prefix = "/"
    vhost.routes[-1].route.cluster = CLUSTERS[2]
    requests = [
        ref.Request("GET", "example.com", "/", ((name, first), (name, second)))
        for name in ("x-canary", "x-debug")
        for first, second in (("yes", "no"), ("no", "yes"), ("yes", "yes"))
    ]
    return [encode_protobuf_input(config, request) for request in requests]


def example_route_configs() -> list:
    from fuzz.targets.examples import example_connection_managers

    return [hcm.route_config for hcm in example_connection_managers()]


def structured_seeds(n: int = 48) -> list:
    """Structured inputs found by a seeded random search, one per distinct outcome shape."""
    import random

    rng = random.Random(20240)
    chosen: dict = {}
    for _ in range(20000):
        data = b"\x00" + rng.randbytes(rng.randint(12, 160))
        try:
            outcome = run(data)
        except oracles.InvariantViolation:
            continue  # a finding, not a seed
        if outcome is None or outcome.answer is None:
            continue
        a = outcome.answer
        route = _config_route(outcome.config, a.route)
        shape = (
            route.match.WhichOneof("path_specifier"),
            len(route.match.headers) > 0,
            route.HasField("runtime_fraction_percent"),
            route.WhichOneof("action"),
            route.route.WhichOneof("cluster_specifier") if route.WhichOneof("action") == "route" else "",
            int(a.route.split("/")[-1]) > 0,
        )
        chosen.setdefault(shape, data)
        if len(chosen) >= n:
            break
    return list(chosen.values())


def write_seeds(out) -> int:
    import hashlib
    from pathlib import Path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = [
        encode_protobuf_input(config, request, draws)
        for config in example_route_configs()
        for request in SEED_REQUESTS
        for draws in SEED_DRAWS
    ]
    seeds += repeated_header_seeds() + structured_seeds()
    for data in seeds:
        (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
    return len(seeds)


if __name__ == "__main__":
    import sys

    print(f"wrote {write_seeds(sys.argv[1] if len(sys.argv) > 1 else 'corpus/route')} seeds")
