"""Forwarding configurations: the session pool's entries whose every request reaches an upstream.

    python -m fuzz gen-configs N --out corpus/session_configs/forwarding --seed S --forwarding

The schema-drawn pool (generate.py) is for the configuration's own edges: its entries route by
drawn domains, paths and header matchers, through RBAC, fault and rate limit filters and
chain matches, so a session request drawn from nothing is forwarded about one time in sixteen, and
the router's, the pool's and the upstream codecs' edges (route and per-try timeouts, retries,
HTTP/2 upstream limits, GOAWAY, circuit breakers) are met on few requests. An entry of this family
is one HCM listener whose routes all forward (a catch-all last), to one or two clusters, and draws
what the upstream side does with a request from families Envoy users set:
- route timeouts: unset (15 s), 0 (disabled: long polls, streams), short, with or without retries;
- HCM timeouts that let the exchange finish: stream idle and request timeouts unset or well past the
  route's (a route timeout of 0 under a 2 s stream idle timeout is never seen to be off);
- clusters: HTTP/1.1 or HTTP/2, connect timeouts below and above the route's, small circuit
  breakers and connection caps, small buffers;
- the HCM's path, header-size and underscore options, and HTTP/2 limits, sometimes.
Deterministic for (seed, index); every entry is validated, built and probed (fuzz/pool_reach.py:
most probes reach an upstream, none raises a finding) before it is written.
"""

import random

import yaml

ROUTE_PATHS = ("/api", "/static/", "/service1", "/a/b", "/admin")  # what session requests carry
# route timeout_ms: None = unset (Envoy's 15 s default)
ROUTE_TIMEOUTS = ((None, 2), (0, 3), (250, 2), (1000, 2), (2000, 1), (30_000, 1))
CONNECT_TIMEOUTS = ((None, 1), (10, 1), (100, 2), (1000, 1))  # None: 5 s
# Stream idle timeout: unset (5 min) or well past any route timeout above; never off, so a request
# whose upstream never answers on a route without a timeout still ends (liveness judges the rest).
STREAM_IDLE = ((None, 2), (60_000, 1))
ESCAPED_SLASH_ACTIONS = ("KEEP_UNCHANGED", "REJECT_REQUEST", "UNESCAPE_AND_REDIRECT", "UNESCAPE_AND_FORWARD")
# An entry is kept when at least this share of its probes reaches an upstream (the probes' clients
# are half HTTP/1.1, half HTTP/2: an HCM of one codec serves half of them at best).
REACH_SHARE = 1 / 4


def _pick(rng: random.Random, table):
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights)[0]


def _set(target: dict, key: str, value) -> None:
    if value is not None:
        target[key] = value


def _route_action(rng: random.Random, cluster: str) -> dict:
    action: dict = {"cluster": cluster}
    _set(action, "timeout_ms", _pick(rng, ROUTE_TIMEOUTS))
    if rng.random() < 0.5:
        action["retry_policy"] = {"num_retries": rng.randint(1, 5)}
    return action


def _cluster(rng: random.Random, name: str, port: int) -> dict:
    cluster: dict = {
        "name": name,
        "endpoints": [{"host": "127.0.0.1", "port": port + i} for i in range(rng.choice((1, 1, 2)))],
        "protocol": rng.choice(("HTTP1", "HTTP2")),
    }
    _set(cluster, "connect_timeout_ms", _pick(rng, CONNECT_TIMEOUTS))
    if rng.random() < 0.3:
        breakers: dict = {}
        _set(breakers, "max_requests", rng.choice((None, 1, 2)))
        _set(breakers, "max_pending_requests", rng.choice((None, 0, 1, 2)))
        _set(breakers, "max_connections", rng.choice((None, 1, 2)))
        cluster["circuit_breakers"] = breakers
    if rng.random() < 0.2:
        cluster["max_connections"] = rng.choice((1, 2))
    if rng.random() < 0.15:
        cluster["per_connection_buffer_limit_bytes"] = rng.choice((1024, 4096, 65536))
    return cluster


def _hcm(rng: random.Random, routes: list) -> dict:
    hcm: dict = {
        "codec": rng.choice(("AUTO", "AUTO", "AUTO", "HTTP1", "HTTP2")),
        "stat_prefix": "fwd",
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]},
    }
    _set(hcm, "stream_idle_timeout_ms", _pick(rng, STREAM_IDLE))
    if rng.random() < 0.2:
        hcm["request_timeout_ms"] = 60_000
    if rng.random() < 0.3:
        hcm["idle_timeout_ms"] = rng.choice((1000, 60_000))
    for option in ("merge_slashes", "normalize_path"):
        if rng.random() < 0.25:
            hcm[option] = True
    if rng.random() < 0.25:
        hcm["path_with_escaped_slashes_action"] = rng.choice(ESCAPED_SLASH_ACTIONS)
    if rng.random() < 0.15:
        hcm["max_request_headers_kb"] = rng.choice((1, 2, 8))
    if rng.random() < 0.15:
        action = rng.choice(("ALLOW", "REJECT_REQUEST", "DROP_HEADER"))
        hcm["common_http_protocol_options"] = {"headers_with_underscores_action": action}
    if hcm["codec"] != "HTTP1" and rng.random() < 0.3:
        hcm["http2_protocol_options"] = {"max_concurrent_streams": rng.choice((1, 2, 100))}
    return hcm


def forwarding_tree(seed: int, index: int) -> dict:
    """The configuration (as YAML's tree) of entry `index` drawn with `seed`."""
    rng = random.Random(f"forwarding-{seed}-{index}")
    names = ["up0", "up1"][: rng.choice((1, 2))]
    routes = []
    if len(names) > 1 or rng.random() < 0.5:  # a path route before the catch-all
        routes.append({"match": {"prefix": rng.choice(ROUTE_PATHS)}, "route": _route_action(rng, names[-1])})
    routes.append({"match": {"prefix": "/"}, "route": _route_action(rng, names[0])})
    listener = {
        "name": "front",
        "address": {"host": "127.0.0.1", "port": 10000},
        "filter_chains": [{"filters": [{"http_connection_manager": _hcm(rng, routes)}]}],
    }
    return {"listeners": [listener], "clusters": [_cluster(rng, n, 9080 + 10 * i) for i, n in enumerate(names)]}


def forwarding_config(seed: int, index: int):
    """Entry `index` of seed `seed` as a validated Bootstrap."""
    from proxy.config import load_bytes

    return load_bytes(yaml.safe_dump(forwarding_tree(seed, index)).encode(), "yaml")


def useful(bootstrap) -> bool:
    """Probes reach an upstream (REACH_SHARE) and none raises a finding (fuzz/pool_reach.py)."""
    from fuzz.pool_reach import probe
    from proxy.build import build

    reach = probe(build(bootstrap))
    return reach.http >= REACH_SHARE * reach.tried and not reach.findings


def pool(n: int, seed: int, tries_per_item: int = 20) -> list:
    """n forwarding Bootstraps, deterministic for (n, seed): draws that are not useful are skipped."""
    kept: list = []
    index = 0
    while len(kept) < n:
        if index >= n * tries_per_item:
            raise RuntimeError(f"only {len(kept)} of {n} forwarding configurations reach an upstream")
        bootstrap = forwarding_config(seed, index)
        index += 1
        if useful(bootstrap):
            kept.append(bootstrap)
    return kept
