"""fuzz/models/timeouts.py, connect timeout: an upstream connection not Connected (its TLS handshake
included) by the cluster's connect_timeout_ms is closed then, shown with a black-holed TLS upstream
(session op upstream_connect_silent) on the real proxy and on a planted bug (the timer that stops
caring once TCP is up)."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A
from tests.fuzz.test_liveness import GET, http, run

TLS_CLUSTER = "connect_timeout_ms: 500\n  tls_context: {common_tls_context: {}}"
BLACK_HOLE = [A("send", payload=GET), A("upstream_connect_silent"), A("advance", value=1_000), A("read")]


def test_a_tls_upstream_that_never_answers_the_handshake_fails_at_the_connect_timeout():
    s = run(http(cluster=TLS_CLUSTER), BLACK_HOLE)
    assert s.ctx.stats.counters["cluster.web.upstream_cx_connect_timeout"] == 1
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 503")
    assert s.network.opened[0].io.silent and not s.network.opened[0].connected


def test_a_connect_timer_that_ends_with_the_tcp_connect_is_found(monkeypatch):
    from proxy.upstream import cluster

    def on_connect_timeout(self):  # the planted bug: TCP up counts as connected
        if self.conn.socket_connected or not self.conn.is_open:
            return
        self.cluster.inc("upstream_cx_connect_timeout")
        self.conn.stream_info["failure"] = "connect_timeout"
        self.conn.close(cluster.CloseType.NO_FLUSH)

    monkeypatch.setattr(cluster._UpstreamConnectionTracker, "_on_connect_timeout", on_connect_timeout)
    with pytest.raises(InvariantViolation) as caught:
        run(http(cluster=TLS_CLUSTER), BLACK_HOLE)
    assert caught.value.name == "model_connect_timeout_late", str(caught.value)
    assert "handshake unfinished" in caught.value.detail


def test_a_plaintext_connect_never_completed_is_closed_at_the_connect_timeout():
    s = run(http(cluster="connect_timeout_ms: 500"), [A("send", payload=GET), A("advance", value=5_000), A("read")])
    assert s.ctx.stats.counters["cluster.web.upstream_cx_connect_timeout"] == 1


TCP_TLS = """
listeners:
- name: l
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filters: [{tcp_proxy: {cluster: c}}]
clusters:
- {name: c, endpoints: [{host: 127.0.0.1, port: 9000}], tls_context: {common_tls_context: {}}}
"""


def _tcp_tls():
    from proxy.build import build
    from proxy.config import load_bytes

    return build(load_bytes(TCP_TLS.encode(), "yaml"))


def test_a_tcp_proxy_client_behind_a_black_holed_tls_upstream_settles_by_the_connect_timeout():
    s = run(_tcp_tls(), [A("send", payload=b"hi"), A("upstream_connect_silent"), A("read")])
    assert s.ctx.stats.counters["cluster.c.upstream_cx_connect_timeout"] == 1


def test_a_tcp_proxy_upstream_handshake_never_timed_out_is_found(monkeypatch):
    from proxy.upstream import cluster

    monkeypatch.setattr(cluster._UpstreamConnectionTracker, "_on_connect_timeout", lambda self: None)  # planted
    with pytest.raises(InvariantViolation) as caught:
        run(_tcp_tls(), [A("send", payload=b"hi"), A("upstream_connect_silent"), A("read")])
    assert caught.value.name in ("model_connect_timeout_late", "stall_read_disabled_tcp_proxy"), str(caught.value)
