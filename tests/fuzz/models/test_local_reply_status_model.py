"""fuzz/models/session_oracle.py model_local_reply_session: an error status the proxy answers itself
is one a model branch gives (no route: 404) or one of the failures it answers on its own. Shown on
the real proxy and on a planted class: the no-route reply's status changed (the 404 -> 405 mutant of
Router.decode_headers, which survived the session corpus in bench mutants before this check)."""

import inspect

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
NO_ROUTE = [A("connect"), A("send", 0, payload=b"GET /elsewhere HTTP/1.1\r\nHost: h\r\n\r\n"), A("read", 0)]


def run(actions):
    return Session(build(load_bytes(CONFIG, "yaml")), models=True).run(actions)


def test_no_route_is_answered_404():
    assert bytes(run(NO_ROUTE).downstream[0].received).startswith(b"HTTP/1.1 404 ")


def test_a_no_route_reply_with_another_status_is_found(monkeypatch):
    source = inspect.getsource(router)
    m = next(m for m in ops.mutants_of(source) if m.qualname == "Router.decode_headers" and m.before == "404")
    code = ops.mutated_code(source, router.__file__, m.qualname, m.index)
    monkeypatch.setattr(router.Router.decode_headers, "__code__", code)
    with pytest.raises(InvariantViolation) as caught:
        run(NO_ROUTE)
    assert caught.value.name == "model_local_reply_session", str(caught.value)
    assert "local 405" in caught.value.detail
