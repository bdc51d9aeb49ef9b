"""fuzz/liveness.check_pool_queues, after every session action: no request waits in a pool queue while
the pool could serve it. A stream ending on an HTTP/2 connection at its upstream's
SETTINGS_MAX_CONCURRENT_STREAMS frees a slot while the connection's other streams go on (settling
would end those too and hide a pool that waits for the connection to be idle)."""

from fuzz.session import Action as A
from proxy.build import build
from proxy.config import load_bytes
from tests.fuzz.test_liveness import GET, fails, http, http_text, run

H2_ONE_CONNECTION = "protocol: HTTP2\n  max_connections: 1"
# The upstream allows 2 streams (settings byte 0x02); three clients; the oldest stream is answered
# while the second stays open.
THREE_ON_TWO_SLOTS = [
    A("upstream_settings", value=0x02),
    A("send", payload=GET),
    A("upstream_connect"),
    A("upstream_read"),
    A("connect"),
    A("send", 1, payload=GET),
    A("connect"),
    A("send", 2, payload=GET),
    A("upstream_read"),
    A("upstream_http", value=1, payload=b"\x00\x02ok"),
    A("upstream_read"),
    A("read", 0),
]


def test_a_freed_http2_slot_serves_the_queued_request_at_once():
    s = run(http(cluster=H2_ONE_CONNECTION), THREE_ON_TWO_SLOTS)
    assert len(s.network.opened) == 1 and len(s.peers.exchanges) == 3
    assert all(ex.upstreams for ex in s.peers.exchanges)


def test_a_pool_that_serves_its_queue_only_when_a_connection_is_idle_is_found(monkeypatch):
    from proxy.upstream.pool import ClusterHttpPool

    def on_stream_closed(self, pc):  # the planted bug: pending requests wait for a connection with no stream
        self._release_request()
        if pc.state == "ready" and not pc.active and not pc.can_take() and pc.conn.is_open:
            pc.conn.close()
        if not pc.active:
            self._serve_pending()

    def on_connection_ready(self, pc):  # and wherever else a connection reports room
        if not pc.active:
            self._serve_pending()

    monkeypatch.setattr(ClusterHttpPool, "on_stream_closed", on_stream_closed)
    monkeypatch.setattr(ClusterHttpPool, "on_connection_ready", on_connection_ready)
    err = fails("stall_pool_queue", http(cluster=H2_ONE_CONNECTION), THREE_ON_TWO_SLOTS)
    assert "after an action" in err.detail


# Two slots, three requests; then the upstream's SETTINGS raise its limit to 3 (settings byte 0x27, a
# zero initial window too) with no stream ending. Found by fuzz run session 90 s (stall_pool_queue).
RAISED_LIMIT = THREE_ON_TWO_SLOTS[:9] + [
    A("upstream_settings", value=0x27),
    A("upstream_read"),
]


def test_a_stream_limit_the_upstream_raises_serves_the_queued_request():
    # Envoy's codec client tells the pool of a SETTINGS change (onSettings), which then serves its queue.
    s = run(http(cluster=H2_ONE_CONNECTION), RAISED_LIMIT)
    assert len(s.network.opened) == 1 and len(s.peers.exchanges) == 3
    assert all(ex.upstreams for ex in s.peers.exchanges)


def test_a_pool_deaf_to_a_raised_stream_limit_is_found(monkeypatch):
    from proxy.upstream.pool import ClusterHttpPool

    monkeypatch.setattr(
        ClusterHttpPool, "on_connection_ready", lambda self, pc: None if pc.active else self._serve_pending()
    )
    err = fails("stall_pool_queue", http(cluster=H2_ONE_CONNECTION), RAISED_LIMIT)
    assert "after an action" in err.detail


# A cluster of two connections shared by an HTTP listener's pool and a tcp_proxy listener (connect value 1).
# The pool's connection is busy with client 0's request; client 2's request queues, the breaker full
# with the tcp_proxy's connection; then that connection fails. Envoy's pool looks at the breaker only
# on an event of its own (ConnPoolImplBase::tryCreateNewConnection), so the queued request waits for
# the busy connection; found by a 15-minute session campaign (config-s3-0006, stall_pool_queue).
SHARED_CLUSTER = """
- name: t
  address: {host: 127.0.0.1, port: 10001}
  filter_chains:
  - filters:
    - tcp_proxy: {cluster: web}"""
FREED_BY_TCP_PROXY = [
    A("send", payload=GET),
    A("upstream_connect"),
    A("upstream_read"),
    A("connect", value=1),
    A("connect"),
    A("send", 2, payload=GET),
    A("upstream_fail"),
]


def shared_cluster():
    text = http_text(cluster="max_connections: 2").replace("\nclusters:", SHARED_CLUSTER + "\nclusters:")
    return build(load_bytes(text.encode(), "yaml"))


def test_a_slot_a_tcp_proxy_frees_is_not_owed_to_a_pool_waiting_on_its_busy_connection():
    s = run(shared_cluster(), FREED_BY_TCP_PROXY)
    assert len(s.network.opened) == 2 and len(s.peers.exchanges) == 2


def test_a_pool_that_leaves_its_own_freed_slot_unused_is_still_found(monkeypatch):
    # The upstream closes the busy connection: client 0 gets its 503, and the pool must open a
    # connection for client 2 (two slots free now, one of them its own).
    from proxy.upstream.pool import ClusterHttpPool

    def serve_pending(self):  # the planted bug: a freed connection's slot is never used for the queue
        for pc in list(self.connections):
            while self.pending and pc.can_take():
                req = self.pending.popleft()
                req.done = True
                req.user.on_pool_ready(pc.attach(req.user))

    monkeypatch.setattr(ClusterHttpPool, "_serve_pending", serve_pending)
    monkeypatch.setattr(ClusterHttpPool, "on_connection_closed", lambda self, pc: self.connections.remove(pc))
    err = fails("stall_pool_queue", shared_cluster(), FREED_BY_TCP_PROXY + [A("upstream_close")])
    assert "after an action" in err.detail
