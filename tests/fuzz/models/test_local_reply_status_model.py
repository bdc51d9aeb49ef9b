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


# fuzz/models/local_errors.py: each error status the proxy answers on its own needs its documented cause.
WAITED = [A("connect"), get(b"/only"), A("advance", value=10), A("read", 0)]


def test_the_clean_proxy_gives_no_local_error_without_its_cause():
    for actions in (ROUTED, WAITED):
        assert bytes(run(actions).downstream[0].received).startswith(b"HTTP/1.1 200 ")


def test_a_well_formed_request_answered_505_is_found(monkeypatch):
    """The planted bug: the HTTP/1.1 codec refuses every whole request line as a version it does not
    speak. Before, 505 was one of the statuses admitted for any local reply."""
    from proxy.http import _h1_strict, h1

    original = _h1_strict.check_request_line

    def version_refused(line, whole=True):
        parsed = original(line, whole)
        if whole:
            raise _h1_strict.FramingError("HTTP version not supported", 505)
        return parsed

    monkeypatch.setattr(_h1_strict, "check_request_line", version_refused)
    monkeypatch.setattr(h1, "check_request_line", version_refused)
    assert "local 505" in fails("model_local_error_cause", ROUTED).detail


def test_a_504_before_any_timeout_could_run_out_is_found(monkeypatch):
    """The planted bug: the route timeout armed with 1 ms whatever the route says (15 s by default), so
    a request still waiting for its upstream connection gets a 504 10 ms in."""

    def one_ms(self):
        if self._timer is None and not self.done:
            self._timer = self.decoder_callbacks.dispatcher.create_timer(self._on_timeout)
            self._timer.enable(1)

    monkeypatch.setattr(router.Router, "_start_timeout", one_ms)
    assert "local 504" in fails("model_local_error_cause", WAITED).detail


def test_a_431_for_a_small_head_is_found(monkeypatch):
    """The planted bug: 64 KiB too many counted in every head, so a 30-byte one is over
    max_request_headers_kb (60 KiB)."""
    from proxy.http import message

    original = message.RequestHead.byte_size
    monkeypatch.setattr(message.RequestHead, "byte_size", lambda self: original(self) + 64 * 1024)
    assert "local 431" in fails("model_local_error_cause", ROUTED).detail
