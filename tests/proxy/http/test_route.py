"""Route table: virtual host precedence, route matchers, weighted clusters and runtime fraction
(deterministic under a seed), direct responses, no route -> 404."""

import random

import pytest

from proxy.config import load_bytes, parse_bytes
from proxy.http.message import HeaderMap, RequestHead
from proxy.http.route import build_route_table

from httpscript import Proxy, ok, parse_responses


def table(yaml_routes: str, clusters=("a", "b", "c"), validate=True):
    text = f"""
listeners:
  - name: l
    address: {{host: 127.0.0.1, port: 1}}
    filter_chains:
      - filters:
          - http_connection_manager:
              route_config:
{yaml_routes}
clusters:
""" + "".join(f"  - {{name: {c}, endpoints: [{{host: 127.0.0.1, port: 1}}]}}\n" for c in clusters)
    msg = (load_bytes if validate else parse_bytes)(text.encode(), "yaml")
    return build_route_table(
        msg.listeners[0].filter_chains[0].filters[0].http_connection_manager.route_config, set(clusters)
    )


def req(path=b"/", authority=b"x", method=b"GET", headers=()):
    return RequestHead(method, path, authority, headers=HeaderMap(headers))


DOMAINS = """
                virtual_hosts:
                  - {name: any, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
                  - {name: prefix, domains: ["api.*"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
                  - {name: longprefix, domains: ["api.example.*"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
                  - {name: suffix, domains: ["*.example.com"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
                  - {name: longsuffix, domains: ["*.api.example.com"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
                  - {name: exact, domains: ["api.example.com", "localhost:8080"], routes: [{match: {prefix: /}, route: {cluster: a}}]}
"""


@pytest.mark.parametrize(
    "authority, vhost",
    [
        (b"api.example.com", "exact"),  # exact beats every wildcard, whatever the order
        (b"API.Example.COM", "exact"),  # host names are case-insensitive
        (b"localhost:8080", "exact"),  # the port is part of the name
        (b"v1.api.example.com", "longsuffix"),  # the longest suffix wins
        (b"www.example.com", "suffix"),
        (b"api.example.org", "longprefix"),  # suffixes beat prefixes; then the longest prefix
        (b"api.other", "prefix"),
        (b"example.com", "any"),  # "*.example.com" needs at least one more character
        (b"other", "any"),
    ],
)
def test_virtual_host_precedence(authority, vhost):
    assert table(DOMAINS).virtual_host(authority).name == vhost


def test_no_virtual_host_means_no_route():
    t = table(
        """
                virtual_hosts:
                  - {name: only, domains: ["a.com"], routes: [{match: {prefix: /}, route: {cluster: a}}]}""",
        validate=False,
    )
    assert t.match(req(authority=b"b.com"), random.Random(0)) is None


ROUTES = """
                virtual_hosts:
                  - name: v
                    domains: ["*"]
                    routes:
                      - {match: {path: /exact}, route: {cluster: a}}
                      - {match: {safe_regex: {regex: "/v[0-9]+/items"}}, route: {cluster: b}}
                      - match: {prefix: /h, headers: [{name: x-canary, exact: "yes"}, {name: x-debug, present: false}]}
                        route: {cluster: c}
                      - match: {prefix: /h, headers: [{name: ":method", exact: POST}]}
                        route: {cluster: b}
                      - {match: {prefix: /static/}, direct_response: {status: 204}}
                      - {match: {prefix: /api}, route: {cluster: a}}
"""


@pytest.mark.parametrize(
    "path, method, headers, expected",
    [
        (b"/exact", b"GET", (), "v/0"),
        (b"/exact?q=1", b"GET", (), "v/0"),  # path match ignores the query
        (b"/exactly", b"GET", (), None),
        (b"/v12/items", b"GET", (), "v/1"),
        (b"/v12/items/x", b"GET", (), None),  # the regex must match the whole path
        (b"/v12/items?x", b"GET", (), "v/1"),
        (b"/h", b"GET", ((b"x-canary", b"yes"),), "v/2"),
        (b"/h", b"GET", ((b"x-canary", b"yes"), (b"x-debug", b"1")), None),  # must be absent
        (b"/h", b"POST", ((b"x-canary", b"no"),), "v/3"),  # pseudo-header match
        (b"/static/a.css", b"GET", (), "v/4"),
        (b"/api?x", b"GET", (), "v/5"),
        (b"/API", b"GET", (), None),  # case-sensitive
    ],
)
def test_route_matchers_first_match_wins(path, method, headers, expected):
    route = table(ROUTES).match(req(path=path, method=method, headers=headers), random.Random(0))
    assert (route.name if route else None) == expected


def test_weighted_clusters_split_by_weight_deterministically():
    t = table("""
                virtual_hosts:
                  - name: v
                    domains: ["*"]
                    routes:
                      - match: {prefix: /}
                        route: {weighted_clusters: {clusters: [{name: a, weight: 70}, {name: b, weight: 20}, {name: c, weight: 10}]}}
""")
    route = t.match(req(), random.Random(0))

    def split(seed):
        rng = random.Random(seed)
        picks = [route.pick_cluster(rng) for _ in range(1000)]
        return {c: picks.count(c) for c in "abc"}

    counts = split(7)
    assert split(7) == counts  # same seed, same split
    for cluster, weight in (("a", 700), ("b", 200), ("c", 100)):
        assert abs(counts[cluster] - weight) <= 50, counts


AB = """
listeners:
  - name: http_in
    address: {host: 127.0.0.1, port: 10080}
    filter_chains:
      - filters:
          - http_connection_manager:
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                      - match: {prefix: "/ab"}
                        runtime_fraction_percent: 50
                        route: {cluster: service1}
                      - match: {prefix: "/ab"}
                        route: {cluster: service2}
clusters:
  - {name: service1, endpoints: [{host: 127.0.0.1, port: 9001}]}
  - {name: service2, endpoints: [{host: 127.0.0.1, port: 9002}]}
"""


def _run_ab(seed: int, n: int) -> dict:
    p = Proxy(AB, seed=seed)
    c = p.client()
    p.network.auto_connect = True
    served = {9001: 0, 9002: 0}
    for _ in range(n):
        c.send(b"GET /ab HTTP/1.1\r\nHost: x\r\n\r\n")
        [up] = [u for u in p.upstreams() if u.conn.is_open and len(u.conn.write_buffer)]
        up.read()
        up.send(ok())
        served[up.address[1]] += 1
    assert len(parse_responses(c.read())) == n
    assert p.counter("http.downstream_rs_total") == n
    return served


def test_ab_split_through_the_proxy_is_within_5_percent_and_repeatable():
    served = _run_ab(seed=1, n=1000)
    assert abs(served[9001] - 500) <= 50 and abs(served[9002] - 500) <= 50, served
    assert _run_ab(seed=1, n=200) == _run_ab(seed=1, n=200)


def test_direct_response_and_no_route_404():
    p = Proxy("""
listeners:
  - name: http_in
    address: {host: 127.0.0.1, port: 10080}
    filter_chains:
      - filters:
          - http_connection_manager:
              route_config:
                virtual_hosts:
                  - name: v
                    domains: ["*"]
                    routes:
                      - {match: {path: /healthz}, direct_response: {status: 200, body: "ok\\n"}}
clusters: []
""")
    c = p.client()
    c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    [(s1, h1, b1), (s2, _, _)] = parse_responses(c.read())
    assert (s1, b1, h1[b"content-length"]) == (200, b"ok\n", b"3")
    assert s2 == 404
    assert p.counter("http.local_replies") == 2 and p.new_upstream_count() == 0


def test_unknown_cluster_and_bad_regex_are_build_errors():
    """Config validation reports these first; the route builder refuses them on its own too."""
    from proxy.http.route import RouteBuildError

    with pytest.raises(RouteBuildError, match="unknown cluster 'zzz'"):
        table(
            """
                virtual_hosts:
                  - {name: v, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: zzz}}]}""",
            validate=False,
        )
    with pytest.raises(RouteBuildError, match=r"safe_regex.regex: not a valid regular expression"):
        table(
            """
                virtual_hosts:
                  - {name: v, domains: ["*"], routes: [{match: {safe_regex: {regex: "(["}}, route: {cluster: a}}]}""",
            validate=False,
        )
