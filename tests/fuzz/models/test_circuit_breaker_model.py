"""The circuit-breaker model (fuzz/models/breakers.py) judges sessions from the wire: never more
upstream connections open to a cluster's endpoints than its max_connections allow. A breaker planted
one connection late (monkeypatch) is caught; the clean proxy refuses the extra connection."""

import pytest

from fuzz import oracles, session
from fuzz.models import breakers
from fuzz.session import Action
from proxy.config import load_bytes
from proxy.upstream import cluster

CONFIG = """
listeners:
- name: tcp
  address: {host: 127.0.0.1, port: 10000}
  filter_chains: [{filters: [{tcp_proxy: {cluster: app}}]}]
clusters:
- {name: app, endpoints: [{host: 10.0.0.9, port: 80}], max_connections: 2}
- {name: other, endpoints: [{host: 10.0.0.8, port: 80}], circuit_breakers: {max_connections: 1}}
"""
THREE_CLIENTS = [Action("connect", 0, 0), Action("connect", 0, 0)]


@pytest.fixture
def pool(tmp_path):
    path = tmp_path / "breaker.yaml"
    path.write_text(CONFIG)
    return session.ConfigPool([path])


def run(pool, actions):
    return session.run_input(pool, session.encode_actions(actions))


def test_the_clean_proxy_keeps_to_the_limit(pool):
    s = run(pool, THREE_CLIENTS)
    assert len(s.network.opened) == 2  # the third client was refused, not connected upstream
    assert s.ctx.stats.counters.get("cluster.app.upstream_cx_overflow") == 1


def test_a_breaker_one_connection_late_is_caught(monkeypatch, pool):
    original = cluster.ClusterManager.tcp_conn_for_cluster

    def one_late(self, name):  # the planted bug: the limit compared with one connection too few
        active = self.clusters[name]
        active.active_connections -= 1
        try:
            return original(self, name)
        finally:
            active.active_connections += 1

    monkeypatch.setattr(cluster.ClusterManager, "tcp_conn_for_cluster", one_late)
    with pytest.raises(oracles.InvariantViolation, match="model_circuit_breaker_max_connections"):
        run(pool, THREE_CLIENTS)


def test_the_limit_is_the_smaller_of_the_two_fields_with_envoys_default():
    boot = load_bytes(CONFIG.encode(), "yaml")
    assert [breakers.max_connections(c) for c in boot.clusters] == [2, 1]
    boot.clusters[0].ClearField("max_connections")
    assert breakers.max_connections(boot.clusters[0]) == 1024


def test_clusters_sharing_an_endpoint_are_judged_by_their_summed_limits():
    boot = load_bytes(CONFIG.replace("10.0.0.8", "10.0.0.9").encode(), "yaml")
    open_conns = [(("10.0.0.9", 80), True)] * 3 + [(("10.0.0.9", 80), False)] * 5
    breakers.check_max_connections(boot, open_conns)  # 3 open <= 2 + 1
    with pytest.raises(oracles.InvariantViolation, match="allow 3"):
        breakers.check_max_connections(boot, open_conns + [(("10.0.0.9", 80), True)])
