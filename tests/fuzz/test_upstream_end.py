"""The session oracle upstream_written_after_its_end (fuzz/upstream_end.py): an HTTP/1.1 upstream answers
and closes in one go while a second client's request waits for the only connection allowed. That
request must go out on a new connection; the pool that handed it to the closing one (planted by
monkeypatch, as the proxy did before 9a67488) is caught."""

import pytest

from fuzz import oracles, session
from fuzz.session import Action as A
from proxy.upstream.pool import ClusterHttpPool

CONFIG = """
listeners:
- name: web
  address: {host: 127.0.0.1, port: 10000}
  filter_chains:
  - filters:
    - http_connection_manager:
        codec: HTTP1
        route_config: {virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: app}}]}]}
clusters:
- {name: app, max_connections: 1, endpoints: [{host: 10.0.0.9, port: 80}]}
"""

# Templates of fuzz/payloads.py: request 0 an HTTP/1.1 GET, answer 0 a response with that body.
SCRIPT = [
    A("send_http", value=0, payload=b"\x00\x00\x00\x00\x01"),
    A("upstream_connect"),
    A("upstream_read"),
    A("connect"),
    A("send_http", 1, value=0, payload=b"\x00\x00\x00\x00\x01"),
    A("upstream_http", value=0, payload=b"\x00\x02\x00\x00ok", end_stream=True),
    A("read"),
    A("upstream_connect", 1),
    A("upstream_read", 1),
    A("upstream_http", 1, value=0, payload=b"\x00\x02\x00\x00ok"),
    A("read", 1),
]


@pytest.fixture
def pool(tmp_path):
    path = tmp_path / "closing-upstream.yaml"
    path.write_text(CONFIG)
    return session.ConfigPool([path])


def test_the_waiting_request_goes_out_on_a_new_connection(pool):
    s = session.run_input(pool, session.encode_actions(SCRIPT))
    assert [ex.outcome for ex in s.peers.exchanges] == ["response", "response"]
    assert len(s.network.opened) == 2


def test_a_pool_that_reuses_the_closing_connection_is_caught(monkeypatch, pool):
    def serve_at_once(self, pc):  # the planted bug: no rest, the queue is served in the same read
        self._release_request()
        self._serve_pending()

    monkeypatch.setattr(ClusterHttpPool, "on_stream_closed", serve_at_once)
    with pytest.raises(oracles.InvariantViolation) as caught:
        session.run_input(pool, session.encode_actions(SCRIPT))
    assert caught.value.name == "upstream_written_after_its_end"
