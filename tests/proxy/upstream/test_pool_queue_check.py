"""fuzz/liveness.check_pool_queues, after every session action: no request waits in a pool queue while
the pool could serve it. A stream ending on an HTTP/2 connection at its upstream's
SETTINGS_MAX_CONCURRENT_STREAMS frees a slot while the connection's other streams go on (settling
would end those too and hide a pool that waits for the connection to be idle)."""

from fuzz.session import Action as A
from tests.fuzz.test_liveness import GET, fails, http, run

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
