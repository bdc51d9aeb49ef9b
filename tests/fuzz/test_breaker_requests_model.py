"""fuzz/models/breakers.py, model_circuit_breaker_requests: a cluster's max_requests and
max_pending_requests breakers (Envoy's Thresholds; overflows counted as upstream_rq_overflow and
upstream_rq_pending_overflow) overflow only once that many requests are in flight. Shown on the real
proxy (the second of two concurrent requests waits for a connection, the third overflows the pending
breaker) and on a planted bug (max_requests read from max_pending_requests)."""

import pytest

from fuzz.models.breakers import most_in_flight
from fuzz.oracles import InvariantViolation
from fuzz.peers.record import Exchange, Message
from fuzz.session import Action as A
from fuzz.session import ConfigPool, Session

GET = b"GET /%d HTTP/1.1\r\nHost: example.com\r\n\r\n"
BREAKERS = "\n    circuit_breakers: {max_requests: 10, max_pending_requests: 1}\n"


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    text = open("examples/http.yaml").read()
    anchor = "    endpoints: [{host: 127.0.0.1, port: 9080}]"
    assert anchor in text
    path = tmp_path_factory.mktemp("breakers") / "http.yaml"
    path.write_text(text.replace(anchor, anchor + BREAKERS.rstrip("\n")))
    return ConfigPool([str(path)]).built[0]


def _concurrent(n: int) -> list:
    """n clients, each with one request the upstream never answers; the first gets its connection."""
    script = [A("connect"), A("send", 1, payload=GET % 1), A("upstream_connect")]
    for i in range(2, n + 1):
        script += [A("connect"), A("send", i, payload=GET % i)]
    return script + [A("read", 1)]


def _exchange(start, end):
    ex = Exchange("x", 0, "HTTP/1.1", 1, Message(started_ms=start))
    if end is not None:
        ex.end("response", end)
    return ex


def test_in_flight_counts_overlaps_at_an_instant_too():
    assert most_in_flight([]) == 0
    assert most_in_flight([_exchange(0, 5), _exchange(5, 9), _exchange(6, None)]) == 2
    assert most_in_flight([_exchange(0, 1), _exchange(2, 3)]) == 1


def test_the_breakers_overflow_at_their_thresholds(pool):
    s = Session(pool).run(_concurrent(3))
    counters = s.ctx.stats.counters
    assert counters.get("cluster.web.upstream_rq_overflow", 0) == 0
    assert counters.get("cluster.web.upstream_rq_pending_overflow", 0) == 1


def test_max_requests_read_from_max_pending_is_found(pool, monkeypatch):
    from proxy.upstream import pool as pool_module

    original = pool_module.ClusterHttpPool.__init__

    def misread(self, ctx, cluster):  # the planted bug: max_requests takes max_pending_requests' value
        original(self, ctx, cluster)
        self.max_requests = self.max_pending

    monkeypatch.setattr(pool_module.ClusterHttpPool, "__init__", misread)
    with pytest.raises(InvariantViolation) as caught:
        Session(pool).run(_concurrent(2))
    assert caught.value.name == "model_circuit_breaker_requests", str(caught.value)
    assert "upstream_rq_overflow" in caught.value.detail
