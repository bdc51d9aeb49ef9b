"""The session harness's model oracles (fuzz/models/session_oracle.py) catch bugs planted in the
proxy by monkeypatch, on the committed seeds: a weighted or plain route answered with the other
cluster, a route lost (404 instead of forwarding), filter chains chosen without the server name,
network RBAC source prefixes one bit short."""

from pathlib import Path

import pytest

import proxy.http.route as route
import proxy.network.filters.rbac as rbac_filter
import proxy.network.listener as listener
from fuzz import oracles, session
from tests.fuzz.models.test_model_oracles_http import _prefix_off_by

SEEDS = Path(session.__file__).resolve().parents[1] / "corpus" / "session"


@pytest.fixture(scope="module")
def pool():
    return session.ConfigPool.default()


@pytest.fixture(autouse=True)
def fresh_chain_verdicts(monkeypatch):
    """Chain selections are judged once per connection facts and process; a planted bug is new code."""
    from fuzz.models import session_oracle

    monkeypatch.setattr(session_oracle, "_CHAINS_CHECKED", {})


def replay_all(pool):
    for p in sorted(SEEDS.iterdir()):
        session.run_input(pool, p.read_bytes())


def test_edge_seeds_are_committed(pool):
    """`python -m fuzz.session_seeds` writes them; each configuration's edge scripts are in the corpus."""
    import hashlib
    from fuzz.session_seeds import edge_scripts

    names = {p.name for p in SEEDS.iterdir()}
    wanted = [
        f"{Path(name).stem}-edges{n + 1}-r0-{hashlib.sha1(session.encode_actions(script, config=i)).hexdigest()[:12]}"
        for i, (name, built) in enumerate(zip(pool.names, pool.built))
        for n, script in enumerate(edge_scripts(built))
    ]
    assert wanted and [w for w in wanted if w not in names] == []


def test_a_route_answered_with_another_cluster_is_caught(monkeypatch, pool):
    original = route.Route.pick_cluster

    def pick_cluster(self, rng):  # the planted bug: the neighbouring cluster of a two-cluster split
        name = original(self, rng)
        return {"service1": "service2", "service2": "service1", "web": "api", "api": "web"}.get(name, name)

    monkeypatch.setattr(route.Route, "pick_cluster", pick_cluster)
    # Whichever the seeds reach first: the request at the wrong cluster's upstream, or its 503 from
    # that cluster while the models forward it to one whose hosts were never tried.
    with pytest.raises(oracles.InvariantViolation, match="model_route_session|model_upstream_failure_unexplained"):
        replay_all(pool)


def test_a_lost_route_is_caught(monkeypatch, pool):
    original = route.VirtualHost.match

    def match(self, *args, **kwargs):  # the planted bug: routes to clusters no longer match
        found = original(self, *args, **kwargs)
        return None if found is not None and not found.is_direct else found

    monkeypatch.setattr(route.VirtualHost, "match", match)
    with pytest.raises(oracles.InvariantViolation, match="model_local_reply_session"):
        replay_all(pool)


def test_filter_chains_chosen_without_the_server_name_are_caught(monkeypatch, pool):
    original = listener.BuiltListener.select_filter_chain
    monkeypatch.setattr(
        listener.BuiltListener,
        "select_filter_chain",
        lambda self, local, remote, server_name="": original(self, local, remote, ""),
    )
    with pytest.raises(oracles.InvariantViolation, match="model_filter_chain_match"):
        replay_all(pool)


def test_network_rbac_prefix_one_bit_short_is_caught(monkeypatch, pool):
    monkeypatch.setattr(rbac_filter, "source_in", _prefix_off_by(-1))
    with pytest.raises(oracles.InvariantViolation, match="model_rbac_(decision|counters)"):
        replay_all(pool)


def test_responses_missing_from_their_status_class_counter_are_caught(monkeypatch, pool):
    from proxy.stats import Stats

    original = Stats.inc

    def inc(self, name, *args, **kwargs):  # the planted bug: 4xx responses are not counted by class
        if not name.endswith("downstream_rq_4xx"):
            original(self, name, *args, **kwargs)

    monkeypatch.setattr(Stats, "inc", inc)
    # a 4xx no client read is caught too: its code's counter moved, its class's did not
    with pytest.raises(oracles.InvariantViolation, match="model_stats_(responses_by_class|class_is_its_codes)"):
        replay_all(pool)


def _fault_delay_session():
    from tests.fuzz.test_liveness import http

    post = b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
    built = http(filters="http_filters: [{fault: {delay_ms: 600}}]")
    actions = [
        session.Action("connect"),
        session.Action("send", payload=post),
        session.Action("upstream_connect"),
        session.Action("upstream_read"),
        session.Action("advance", value=1_000),
        session.Action("upstream_read"),
    ]
    return session.Session(built, models=True), actions


def test_a_delayed_request_reaches_its_upstream_after_the_delay():
    s, actions = _fault_delay_session()
    s.run(actions)
    (ex,) = s.peers.exchanges
    assert ex.upstreams[0].request.started_ms >= 600


def test_a_delay_skipped_by_a_request_with_a_body_is_caught(monkeypatch):
    from tests.fuzz.models.test_model_oracles_http import plant_delay_released_by_body

    plant_delay_released_by_body(monkeypatch)
    s, actions = _fault_delay_session()
    with pytest.raises(oracles.InvariantViolation, match="model_fault_delay_session"):
        s.run(actions)


# The HTTP/1.1 codec's own error replies are responses like any other (HCM statistics, downstream_rq_Nxx):
# (what the client sends, the status it reads). The first asks a direct 200 that the codec's 400 replaces.
CODEC_REPLIES = [
    (b"POST /healthz HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505),
]


def _codec_reply_session(payload):
    from proxy.build import build
    from proxy.config import load_file

    built = build(load_file(Path(session.__file__).resolve().parents[1] / "examples" / "http_features.yaml"))
    s = session.Session(built, models=True)
    s.run([session.Action("connect"), session.Action("send", payload=payload), session.Action("read")])
    return s


@pytest.mark.parametrize("payload, status", CODEC_REPLIES)
def test_the_codecs_own_error_reply_is_counted_as_the_response_the_client_reads(payload, status):
    s = _codec_reply_session(payload)
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 %d " % status)
    counted = {
        k.split("_")[-1]: v
        for k, v in s.ctx.stats.counters.items()
        if k.startswith("http.downstream_rq_") and k.endswith("xx") and v
    }
    assert counted == {f"{status // 100}xx": 1}  # and no 2xx for the direct reply the codec replaced


def test_codec_error_replies_left_out_of_the_status_counters_are_caught(monkeypatch):
    from proxy.http import conn_manager

    dispatch = conn_manager.HttpConnectionManager._dispatch

    def uncounted(self, ev):  # the defect as it was: the HCM never counted what the codec answered
        if isinstance(ev, conn_manager.ProtocolViolation):
            ev = conn_manager.ProtocolViolation(ev.reason, None, ev.error_code, ev.stream_id, ev.earlier_streams_live)
        return dispatch(self, ev)

    monkeypatch.setattr(conn_manager.HttpConnectionManager, "_dispatch", uncounted)
    with pytest.raises(oracles.InvariantViolation, match="model_stats_responses_by_class"):
        _codec_reply_session(CODEC_REPLIES[1][0])


def _slow_upstream_session():
    """A POST ended by its body; the upstream reads it and says nothing for 30 s (route timeout: 15 s)."""
    from tests.fuzz.test_liveness import http

    post = b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
    actions = [
        session.Action("connect"),
        session.Action("send", payload=post),
        session.Action("upstream_connect"),
        session.Action("upstream_read"),
        session.Action("advance", value=30_000),
        session.Action("read"),
    ]
    return session.Session(http(), models=True), actions


def test_a_route_timeout_answers_504_before_a_late_response():
    s, actions = _slow_upstream_session()
    s.run(actions)
    (ex,) = s.peers.exchanges
    assert ex.response.status == 504 and s.ctx.stats.counters["cluster.web.upstream_rq_timeout"] == 1


def test_a_route_timeout_never_armed_for_a_body_is_caught(monkeypatch):
    # The planted bug: the router starts its timeout for requests ended by headers or trailers only.
    from proxy.http.filters.router import Router

    real_data = Router.decode_data

    def decode_data(self, data, end_stream):
        self._start_timeout = lambda: None
        try:
            return real_data(self, data, end_stream)
        finally:
            del self._start_timeout

    monkeypatch.setattr(Router, "decode_data", decode_data)
    s, actions = _slow_upstream_session()
    with pytest.raises(oracles.InvariantViolation, match="model_route_timeout_late"):
        s.run(actions)


def _stalled_body_session():
    """A GET; the upstream sends its head and half the body at once, the rest 30 s later (route
    timeout: 15 s, which spans the whole response in Envoy, not only its head)."""
    from tests.fuzz.test_liveness import http

    actions = [
        session.Action("connect"),
        session.Action("send", payload=b"GET /slow-body HTTP/1.1\r\nHost: h\r\n\r\n"),
        session.Action("upstream_connect"),
        session.Action("upstream_read"),
        session.Action("upstream_send", payload=b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"),
        session.Action("read"),
        session.Action("advance", value=30_000),
        session.Action("upstream_send", payload=b"world"),
        session.Action("read"),
    ]
    return session.Session(http(), models=True), actions


def test_a_route_timeout_resets_a_response_whose_body_stalls():
    s, actions = _stalled_body_session()
    s.run(actions)
    (ex,) = s.peers.exchanges
    assert ex.outcome != "response" and s.ctx.stats.counters["cluster.web.upstream_rq_timeout"] == 1


def test_a_route_timeout_stopped_by_the_response_head_is_caught(monkeypatch):
    # Found black-box (the live proxy held a stalled body until stream_idle_timeout): the router
    # stopped its route timeout at the response head. Planted again: a started response disarms it.
    from proxy.http.filters.router import Router

    real_headers = Router.on_upstream_headers

    def on_upstream_headers(self, *args):
        self._stop_timeout()
        return real_headers(self, *args)

    monkeypatch.setattr(Router, "on_upstream_headers", on_upstream_headers)
    s, actions = _stalled_body_session()
    with pytest.raises(oracles.InvariantViolation, match="model_route_timeout_late"):
        s.run(actions)


HEAD_HEALTHZ = b"HEAD /healthz HTTP/1.1\r\nHost: h\r\n\r\n"


def test_a_head_answered_by_a_direct_response_declares_the_gets_length():
    s = _codec_reply_session(HEAD_HEALTHZ)  # examples/http_features.yaml: /healthz answers 200 "ok\n"
    received = bytes(s.downstream[0].received)
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and received.endswith(b"\r\n\r\n")  # no body
    assert b"\r\ncontent-length: 3\r\n" in received


def test_a_local_reply_to_head_declaring_no_content_is_caught(monkeypatch):
    # Found black-box (curl -I on a direct response read content-length: 0): the body was dropped
    # for HEAD before its length was taken. Planted again as it was.
    from proxy.http import filter_chain

    real = filter_chain.local_reply_head

    def local_reply_head(status, body, extra_headers, request_head):
        if request_head is not None and request_head.method == b"HEAD":
            body = b""
        return real(status, body, extra_headers, request_head)

    monkeypatch.setattr(filter_chain, "local_reply_head", local_reply_head)
    with pytest.raises(oracles.InvariantViolation, match="model_local_reply_head_length"):
        _codec_reply_session(HEAD_HEALTHZ)


def _delayed_upload_session():
    """A POST with a body five times the listener's buffer limit (1 KiB) behind a fault delay."""
    from tests.fuzz.test_liveness import http

    body = b"u" * 5000
    post = b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    built = http(filters="http_filters: [{fault: {delay_ms: 600}}]")
    actions = [
        session.Action("connect"),
        session.Action("send", payload=post),
        session.Action("read"),
        session.Action("advance", value=1_000),
        session.Action("upstream_connect"),
        session.Action("upstream_read"),
        session.Action("upstream_read"),
        session.Action("read"),
    ]
    return session.Session(built, models=True), actions


def test_a_delayed_upload_over_the_buffer_limit_reaches_its_upstream_whole():
    s, actions = _delayed_upload_session()
    s.run(actions)
    (ex,) = s.peers.exchanges
    assert ex.upstreams and len(ex.upstreams[0].request.body) == 5000


def test_a_delayed_upload_refused_with_a_413_is_caught(monkeypatch):
    from proxy.http.filter_chain import _Direction

    def _hold(self, entry, buf, end):  # the defect as it was: a STOP_ALL_ITERATION hold over the limit is a 413
        entry.buffer.move_from(buf)
        entry.held_end |= end
        if self.buffered() > self.chain.stream.buffer_limit:
            self.chain.buffer_overflow(self.decoding, entry.index)

    monkeypatch.setattr(_Direction, "_hold", _hold)
    s, actions = _delayed_upload_session()
    with pytest.raises(oracles.InvariantViolation, match="model_request_body_refused"):
        s.run(actions)
