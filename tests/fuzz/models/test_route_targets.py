"""Templated session requests reach the routes of the configuration they run on
(fuzz.models.routing.request_targets, fuzz.models.session_oracle.route_targets): a route table that
few fixed paths and hosts of fuzz/payloads.py reach is asked for its own paths, header fields and
the hosts of the route's virtual host; one the fixed tables mostly reach keeps them, and may add the
fields a route matches on; a connection asks the route table of the chain it reaches."""

from proxy.build import build
from proxy.config import load_bytes

from fuzz import session
from fuzz.payloads import HOSTS, PATHS, ROUTE_FIELDS_BIT
from fuzz.models.session_oracle import route_targets

ROUTES = """
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filters:
    - http_connection_manager:
        route_config:
          virtual_hosts:
          - name: v
            domains: [%s]
            routes:
            - match: {prefix: "/never", headers: [{name: x-bad, exact: "\\u0001"}]}
              route: {cluster: web}
            - match: {prefix: "/off"}
              runtime_fraction_percent: 0
              route: {cluster: web}
            - match: {prefix: %s, headers: [{name: x-tier, exact: gold}, {name: x-no, present: false}]}
              route: {cluster: web}
            - match: {path: "/service1"}
              route: {cluster: web}
            - match: {prefix: "/"}
              direct_response: {status: 404}
clusters:
- name: web
  endpoints: [{host: 127.0.0.1, port: 9080}]
"""


def _built(domain: str, prefix: str):
    return build(load_bytes((ROUTES % (domain, prefix)).encode(), "yaml"))


def _upstream_saw(built, payload: bytes):
    actions = [session.Action("connect"), session.Action("send_http", value=0, payload=payload)]
    actions += [session.Action("upstream_connect"), session.Action("upstream_read")]
    s = session.Session(built, models=True).run(actions)
    (ex,) = s.peers.exchanges
    return ex.upstreams


def test_a_route_table_the_fixed_tables_miss_is_asked_for_its_own_targets():
    built = _built('"*.q9.test"', '"/z-"')
    targets, hosts, instead = route_targets(built, PATHS, HOSTS)[:3]
    assert instead and hosts == (b"www.q9.test",)
    own = (b"www.q9.test",)  # unreachable ones left out
    assert targets == ((b"/z-", ((b"x-tier", b"gold"),), own), (b"/service1", (), own), (b"/", (), own))
    assert _upstream_saw(built, b"\x00")[0].request.header(b"x-tier") == b"gold"


def test_fixed_tables_that_reach_few_routes_give_way_to_the_routes_own_targets():
    built = _built('"*"', '"/"')  # the fixed tables reach /service1 alone: 1 path of 9
    assert route_targets(built, PATHS, HOSTS).instead is True
    seen = _upstream_saw(built, b"\x00\x00\x00\x00")  # own target 0: the header route, with its field
    assert seen[0].request.target == b"/" and seen[0].request.header(b"x-tier") == b"gold"


CATCH_ALL = """
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filters:
    - http_connection_manager:
        route_config:
          virtual_hosts:
          - name: v
            domains: ["*"]
            routes:
            - match: {prefix: "/", headers: [{name: x-tier, exact: gold}]}
              route: {cluster: gold}
            - match: {prefix: "/"}
              route: {cluster: web}
clusters:
- {name: web, endpoints: [{host: 127.0.0.1, port: 9080}]}
- {name: gold, endpoints: [{host: 127.0.0.1, port: 9081}]}
"""


def test_fixed_tables_that_reach_the_routes_stay_and_may_carry_their_fields():
    built = build(load_bytes(CATCH_ALL.encode(), "yaml"))
    assert route_targets(built, PATHS, HOSTS).instead is False
    plain = _upstream_saw(built, b"\x00")  # GET / on example.com, the catch-all
    assert plain[0].cluster == "web" and plain[0].request.header(b"x-tier") is None
    seen = _upstream_saw(built, b"\x00\x00\x00\x00" + bytes([ROUTE_FIELDS_BIT]))
    assert seen[0].cluster == "gold" and seen[0].request.header(b"x-tier") == b"gold"


TWO_CHAINS = """
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filter_chain_match: {destination_port: 10001}
    filters:
    - http_connection_manager:
        route_config:
          virtual_hosts:
          - {name: a, domains: [a.test], routes: [{match: {prefix: /a}, route: {cluster: a}}]}
  - filters:
    - http_connection_manager:
        route_config:
          virtual_hosts:
          - {name: b, domains: [b.test], routes: [{match: {prefix: /b}, route: {cluster: b}}]}
clusters:
- {name: a, endpoints: [{host: 127.0.0.1, port: 9080}]}
- {name: b, endpoints: [{host: 127.0.0.1, port: 9081}]}
"""


def test_a_connection_asks_the_route_table_of_the_chain_it_reaches():
    built = build(load_bytes(TWO_CHAINS.encode(), "yaml"))
    whole = route_targets(built, PATHS, HOSTS)
    assert {t[0] for t in whole.targets} == {b"/a", b"/b"}
    for port, path in ((10001, b"/a"), (10000, b"/b")):
        own = whole.for_connection((0, ("127.0.0.1", port), ("127.0.0.1", 40000), ""))
        assert [t[0] for t in own.targets] == [path]
    # Every request on a connection to port 10000 (chain b) asks for /b, whatever its template bytes.
    for seed in (b"\x00", b"\x00\x01\x01", b"\x02\x05\x07"):
        (up,) = _upstream_saw(built, seed)
        assert (up.cluster, up.request.target, up.request.authority) == ("b", b"/b", b"b.test")
