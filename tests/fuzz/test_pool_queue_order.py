"""fuzz/pool_queue_order.py: requests queued for an upstream connection are served oldest first.
Shown on the real pool and on the planted class (the queue served newest first)."""

from fuzz.session import Action as A, peer_of
from tests.fuzz.test_liveness import fails, http, response, run

MAX_ONE = "max_connections: 1"


def _get(name: bytes) -> bytes:
    return b"GET /" + name + b" HTTP/1.1\r\nHost: h\r\nX-Fuzz-Id: " + name + b"\r\n\r\n"


# One connection allowed: a is on it; b, then c, queue behind it on connections of their own.
QUEUE = [
    A("send", payload=_get(b"a")),
    A("upstream_connect"),
    A("upstream_read"),
    A("connect"),
    A("send", 1, payload=_get(b"b")),
    A("connect"),
    A("send", 2, payload=_get(b"c")),
    A("upstream_send", payload=response(b"for a")),  # the connection frees up: b's turn
    A("upstream_read"),
]


def test_the_oldest_queued_request_gets_the_freed_connection():
    s = run(http(cluster=MAX_ONE), QUEUE + [A("upstream_send", payload=response(b"for b")), A("upstream_read")])
    received = b"".join(bytes(peer_of(conn).received) for conn in s.network.opened)
    assert received.index(b"GET /a ") < received.index(b"GET /b ") < received.index(b"GET /c ")


def test_a_queue_served_newest_first_is_found(monkeypatch):
    from proxy.upstream.pool import ClusterHttpPool

    def newest_first(self):  # the planted class: the queue read from its far end
        for pc in list(self.connections):
            while pc.can_take() and self.pending:
                req = self.pending.pop()
                self.ctx.stats.gauge_add(self.prefix + "upstream_rq_pending_active", -1)
                req.done = True
                req.user.on_pool_ready(pc.attach(req.user))

    monkeypatch.setattr(ClusterHttpPool, "_serve_pending", newest_first)
    err = fails("pool_queue_served_out_of_order", http(cluster=MAX_ONE), QUEUE)
    assert "1 request(s) queued before it" in err.detail
