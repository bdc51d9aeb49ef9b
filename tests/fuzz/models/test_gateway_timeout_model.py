"""fuzz.models.timeouts.check_gateway_timeout_explained: a 504 the proxy makes for a request that
reached an upstream comes from a timeout the configuration gives it: the route timeout (RouteAction
timeout_ms, 0: none) counted from the request's end, or request_timeout_ms from its head
(model_gateway_timeout_unexplained)."""

import pytest

from fuzz import oracles, session
from proxy.http import route

SILENT_UPSTREAM = [
    session.Action("connect"),
    session.Action("send", payload=b"GET /poll HTTP/1.1\r\nHost: h\r\n\r\n"),
    session.Action("upstream_connect"),
    session.Action("upstream_read"),
    session.Action("advance", value=20_000),
    session.Action("read"),
]


def _session(route_fields: str):
    from tests.fuzz.test_liveness import http

    return session.Session(http(route=route_fields), models=True)


def test_the_default_route_timeout_answers_a_silent_upstream_with_504():
    s = _session("")
    s.run(SILENT_UPSTREAM)
    (ex,) = s.peers.exchanges
    assert ex.response.status == 504


def test_a_route_without_timeout_waits_for_its_upstream():
    s = _session(", timeout_ms: 0")
    s.run(SILENT_UPSTREAM)
    (ex,) = s.peers.exchanges
    assert ex.response.status == 200 and ex.response.started_ms == 20_000  # the upstream's, when settled


def test_a_disabled_route_timeout_read_as_unset_is_caught(monkeypatch):
    # The class: an optional field whose zero means "none" read as unset (`value or default`), so a
    # route with timeout_ms: 0 gets the 15 s default (planted bug route-timeout-zero-takes-default).
    real = route._build_route

    def build(msg, *args):
        built = real(msg, *args)
        return built if built.timeout_ms else route.Route(**{**built.__dict__, "timeout_ms": 15000})

    monkeypatch.setattr(route, "_build_route", build)
    with pytest.raises(oracles.InvariantViolation, match="model_gateway_timeout_unexplained"):
        _session(", timeout_ms: 0").run(SILENT_UPSTREAM)


def test_a_route_timeout_shorter_than_its_wait_explains_the_504():
    s = _session(", timeout_ms: 5000")
    s.run(SILENT_UPSTREAM)
    (ex,) = s.peers.exchanges
    assert ex.response.status == 504
