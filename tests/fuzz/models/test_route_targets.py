"""Templated session requests reach the routes of the configuration they run on
(fuzz.models.routing.request_targets, fuzz.models.session_oracle.route_targets): a route table that
no fixed path and host of fuzz/payloads.py reaches is asked for its own domains, paths and header
fields; one the fixed tables reach keeps them, and may add the fields a route matches on."""

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
    targets, hosts, instead = route_targets(built, PATHS, HOSTS)
    assert instead and hosts == (b"www.q9.test",)
    assert targets == ((b"/z-", ((b"x-tier", b"gold"),)), (b"/service1", ()), (b"/", ()))  # unreachable ones left out
    assert _upstream_saw(built, b"\x00")[0].request.header(b"x-tier") == b"gold"


def test_fixed_tables_that_reach_a_route_stay_and_may_carry_its_fields():
    built = _built('"*"', '"/"')
    assert route_targets(built, PATHS, HOSTS)[2] is False
    assert _upstream_saw(built, b"\x00") == []  # GET / on example.com: the route wants x-tier
    seen = _upstream_saw(built, b"\x00\x00\x00\x00" + bytes([ROUTE_FIELDS_BIT]))
    assert seen[0].request.target == b"/" and seen[0].request.header(b"x-tier") == b"gold"
