"""fuzz/models/session_oracle.py model_upstream_failure_unexplained: a local 503 for a request the
models forward is an upstream failure, so some connection to the route's hosts was opened or one of
its circuit breakers overflowed. Shown on the real proxy (a refused upstream) and on a planted class:
the pool manager handing out no pool (the 'pool is None' -> 'pool is not None' mutant of
HttpPoolManager.get, which survived the session corpus in bench mutants: every request got a 503 and
no oracle objected)."""

import inspect

import pytest

from fuzz.bench.mutants import ops
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.build import build
from proxy.config import load_bytes
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
            - match: {prefix: "/"}
              route: {cluster: web}
clusters:
- {name: web, endpoints: [{host: 127.0.0.1, port: 9080}]}
"""
GET = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
REFUSED = [A("connect"), A("send", 0, payload=GET), A("upstream_fail"), A("read", 0)]


def run(actions):
    return Session(build(load_bytes(CONFIG, "yaml")), models=True).run(actions)


def test_a_refused_upstream_explains_its_503():
    assert bytes(run(REFUSED).downstream[0].received).startswith(b"HTTP/1.1 503 ")


def test_a_503_with_no_upstream_tried_is_found(monkeypatch):
    source = inspect.getsource(pool)
    m = next(m for m in ops.mutants_of(source) if m.qualname == "HttpPoolManager.get" and m.before == "pool is None")
    code = ops.mutated_code(source, pool.__file__, m.qualname, m.index)
    monkeypatch.setattr(pool.HttpPoolManager.get, "__code__", code)
    with pytest.raises(InvariantViolation) as caught:
        run([A("connect"), A("send", 0, payload=GET), A("read", 0)])
    assert caught.value.name == "model_upstream_failure_unexplained", str(caught.value)
