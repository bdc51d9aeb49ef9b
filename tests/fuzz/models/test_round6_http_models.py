"""Session models added for the sixth planted round, HTTP half (fuzz/models/session_oracle.py): the
route timeout spans every retry (model_route_timeout_late for a 503 whose attempts outlasted it) and
max_request_headers_kb bounds the whole head, target included (model_request_headers_too_large_forwarded).
Each bug class, planted by monkeypatch, fails a short in-memory session; the real proxy passes it."""

import json

import pytest

from fuzz import oracles, session
from fuzz.session import Action as A
from proxy.build import build
from proxy.config import load_bytes
from proxy.http.filters.router import Router
from proxy.http.message import RequestHead


def built(route: dict, cluster: dict, hcm: dict | None = None):
    manager = {
        "codec": "AUTO",
        "route_config": {
            "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": route}]}]
        },
        **(hcm or {}),
    }
    config = {
        "listeners": [
            {
                "name": "web",
                "address": {"host": "127.0.0.1", "port": 10000},
                "filter_chains": [{"filters": [{"http_connection_manager": manager}]}],
            }
        ],
        "clusters": [{"name": "app", "endpoints": [{"host": "10.0.0.9", "port": 80}], **cluster}],
    }
    return build(load_bytes(json.dumps(config).encode(), "json"))


def run(config, actions):
    return session.Session(config, models=True).run([A("connect", value=0)] + actions)


# Connects time out at 100 ms, four retries, a 250 ms route timeout: a 504 at 250 ms.
RETRIES = dict(route={"cluster": "app", "timeout_ms": 250, "retry_policy": {"num_retries": 4}})
HANGING = [A("send", payload=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")] + [A("advance", value=100)] * 10 + [A("read")]


def test_retries_cut_by_the_route_timeout_pass():
    s = run(built(cluster={"connect_timeout_ms": 100}, **RETRIES), HANGING)
    assert [ex.response.status for ex in s.peers.exchanges] == [504]


def rearm_the_route_timer_on_each_retry(monkeypatch) -> None:
    """The planted bug: each retry gets the route's whole timeout again."""
    original = Router._retry

    def rearmed(self):
        if self._timer is not None and self.route is not None:
            self._timer.enable(self.route.timeout_ms)
        original(self)

    monkeypatch.setattr(Router, "_retry", rearmed)


def test_a_route_timeout_restarted_by_each_retry_is_caught(monkeypatch):
    rearm_the_route_timer_on_each_retry(monkeypatch)
    with pytest.raises(oracles.InvariantViolation, match="model_route_timeout_late"):
        run(built(cluster={"connect_timeout_ms": 100}, **RETRIES), HANGING)


def test_retries_that_end_before_the_route_timeout_are_not_judged_late():
    s = run(built(cluster={"connect_timeout_ms": 40}, **RETRIES), HANGING)  # five failures by 200 ms
    assert [ex.response.status for ex in s.peers.exchanges] == [503]


def exchange(target: bytes) -> list:
    request = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    return [A("send", payload=request), A("upstream_connect"), A("upstream_read")] + [
        A("upstream_send", payload=answer),
        A("read"),
    ]


LIMITED = dict(route={"cluster": "app"}, cluster={}, hcm={"max_request_headers_kb": 1})


@pytest.mark.parametrize("size, status", [(900, 200), (2048, 431)])
def test_the_header_limit_counts_the_target(size, status):
    s = run(built(**LIMITED), exchange(b"/q?" + b"a" * size))
    assert [ex.response.status for ex in s.peers.exchanges] == [status]


def test_a_header_limit_that_leaves_out_the_target_is_caught(monkeypatch):
    monkeypatch.setattr(RequestHead, "byte_size", lambda self: len(self.method) + self.headers.byte_size())
    with pytest.raises(oracles.InvariantViolation, match="model_request_headers_too_large_forwarded"):
        run(built(**LIMITED), exchange(b"/q?" + b"a" * 2048))
