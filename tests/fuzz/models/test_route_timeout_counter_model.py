"""fuzz/models/flag_counters.py (model_upstream_rq_timeout): the clusters'
upstream_rq_timeout counts the streams the access log flags UT. Shown on the real proxy (a silent
upstream past the route timeout) and on the mutant that survived the session corpus in bench mutants
(Router._on_timeout without its counter, planted with fuzz.bench.mutants.ops)."""

import pytest

from fuzz.bench.mutants import ops
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from proxy.build import build
from proxy.config import load_bytes
from proxy.http.filters import router

CONFIG = b"""
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filters:
    - http_connection_manager:
        codec: HTTP1
        access_log: {stdout: true}
        route_config:
          virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
            - match: {prefix: "/"}
              route: {cluster: web, timeout_ms: 500}
clusters:
- {name: web, endpoints: [{host: 127.0.0.1, port: 9080}]}
"""
SILENT = [
    A("connect"),
    A("send", 0, payload=b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
    A("upstream_connect"),
    A("upstream_read"),
    A("advance", value=600),
    A("read", 0),
]


def run():
    return Session(build(load_bytes(CONFIG, "yaml")), models=True).run(SILENT)


def test_a_route_timeout_is_counted_and_logged():
    s = run()
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 504 ")
    assert s.ctx.stats.counters["cluster.web.upstream_rq_timeout"] == 1


def test_a_route_timeout_not_counted_is_found(monkeypatch):
    before = "self.ctx.stats.inc(f'cluster.{self.cluster}.upstream_rq_timeout')"
    monkeypatch.setattr(router.Router._on_timeout, "__code__", ops.planted(router, "Router._on_timeout", before))
    with pytest.raises(InvariantViolation) as caught:
        run()
    assert caught.value.name == "model_upstream_rq_timeout", str(caught.value)
