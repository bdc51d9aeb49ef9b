"""fuzz/models/session_oracle.py, the status of a local reply:
  - model_local_reply_session: an error status the proxy answers itself is one a model branch gives
    (no route: 404) or one of the failures it answers on its own;
  - model_upstream_failure_unexplained: a local 503 for a request the models forward is an upstream
    failure, so a connection to the route's hosts was opened or one of its breakers overflowed.
Shown on the real proxy and on two mutants that survived the session corpus in bench mutants
before these checks (planted with fuzz.bench.mutants.ops): the no-route reply answered 405
(Router.decode_headers), and a pool manager that hands out no pool, so every routed request got a
503 (HttpPoolManager.get)."""

import pytest

from fuzz.bench.mutants import ops
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.build import build
from proxy.config import load_bytes
from proxy.http.filters import router
from proxy.upstream import pool

CONFIG = b"""
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filters:
    - http_connection_manager:
        codec: HTTP1
        route_config:
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
            - match: {prefix: "/only"}
              route: {cluster: web}
clusters:
- {name: web, endpoints: [{host: 127.0.0.1, port: 9080}]}
"""


def get(path: bytes) -> A:
    return A("send", 0, payload=b"GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % path)


NO_ROUTE = [A("connect"), get(b"/elsewhere"), A("read", 0)]
ROUTED = [A("connect"), get(b"/only"), A("read", 0)]
REFUSED = [A("connect"), get(b"/only"), A("upstream_fail"), A("read", 0)]


def run(actions):
    return Session(build(load_bytes(CONFIG, "yaml")), models=True).run(actions)


def fails(name: str, actions) -> InvariantViolation:
    with pytest.raises(InvariantViolation) as caught:
        run(actions)
    assert caught.value.name == name, str(caught.value)
    return caught.value


def test_no_route_is_answered_404():
    assert bytes(run(NO_ROUTE).downstream[0].received).startswith(b"HTTP/1.1 404 ")


def test_a_refused_upstream_explains_its_503():
    assert bytes(run(REFUSED).downstream[0].received).startswith(b"HTTP/1.1 503 ")


def test_a_no_route_reply_with_another_status_is_found(monkeypatch):
    monkeypatch.setattr(router.Router.decode_headers, "__code__", ops.planted(router, "Router.decode_headers", "404"))
    assert "local 405" in fails("model_local_reply_session", NO_ROUTE).detail


def test_a_503_with_no_upstream_tried_is_found(monkeypatch):
    monkeypatch.setattr(pool.HttpPoolManager.get, "__code__", ops.planted(pool, "HttpPoolManager.get", "pool is None"))
    fails("model_upstream_failure_unexplained", ROUTED)
