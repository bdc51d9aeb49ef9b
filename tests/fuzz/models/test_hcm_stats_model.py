"""The per-protocol request counters (fuzz/models/hcm_stats.py) against what the session's clients sent:
HTTP/2 requests counted as HTTP/1.1 (planted by monkeypatch) are caught on the committed seeds."""

from pathlib import Path
from types import SimpleNamespace

import pytest

import proxy.http.conn_manager as conn_manager
from fuzz import oracles, session
from fuzz.models import hcm_stats

SEEDS = Path(session.__file__).resolve().parents[1] / "corpus" / "session"


def sent(*protocols):
    return [SimpleNamespace(protocol=p) for p in protocols]


def test_counters_within_what_was_sent_pass():
    counters = {"http.downstream_rq_total": 2, "http.downstream_rq_http1": 1, "http.downstream_rq_http2": 1}
    hcm_stats.check_requests_per_protocol(counters, sent("HTTP/1.1", "HTTP/2", "HTTP/2"))


def test_counters_not_adding_up_to_the_total_fail():
    counters = {"http.downstream_rq_total": 2, "http.downstream_rq_http1": 1}
    with pytest.raises(oracles.InvariantViolation, match="model_hcm_requests_per_protocol"):
        hcm_stats.check_requests_per_protocol(counters, sent("HTTP/1.1", "HTTP/1.1"))


def test_http2_requests_counted_as_http1_are_caught_on_the_seeds(monkeypatch):
    original = conn_manager._Stats.inc

    def inc(self, name, n=1):  # the planted bug: the HTTP/2 counter never moves, HTTP/1.1 gets it
        original(self, "downstream_rq_http1" if name == "downstream_rq_http2" else name, n)

    monkeypatch.setattr(conn_manager._Stats, "inc", inc)
    pool = session.ConfigPool.default()
    with pytest.raises(oracles.InvariantViolation, match="model_hcm_requests_per_protocol"):
        for p in sorted(SEEDS.iterdir()):
            session.run_input(pool, p.read_bytes())


# -- codec counters: what the connection manager exports is what its codecs counted ------------------
def _two_malformed_http2_requests() -> list[bytes]:
    """An HTTP/2 client's bytes, in two writes: two requests whose :path has a fragment, each refused
    alone (RST_STREAM(PROTOCOL_ERROR), counted by the codec as h2_rejected_request)."""
    import h2.config
    import h2.connection

    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    client.initiate_connection()
    writes = []
    for sid in (1, 3):
        fields = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"h"), (b":path", b"/a#%d" % sid)]
        client.send_headers(sid, fields, end_stream=True)
        writes.append(client.data_to_send())
    return writes


def _codec_counter_script():
    from fuzz.session import Action as A

    return [A("send", payload=data) for data in _two_malformed_http2_requests()] + [A("read")]


def test_codec_counters_are_exported_once_each():
    from tests.fuzz.test_liveness import http, run

    s = run(http(codec="HTTP2"), _codec_counter_script())
    assert s.ctx.stats.counters["http.h2_rejected_request"] == 2


def test_codec_counters_exported_by_reference_are_caught(monkeypatch):
    from proxy.http.conn_manager import HttpConnectionManager
    from tests.fuzz.test_liveness import fails, http

    def export(self):  # the planted bug: the codec's live dict kept as "exported", so nothing changes again
        stats = self.codec.stats
        if stats == self._exported:
            return
        for name, value in stats.items():
            delta = value - self._exported.get(name, 0)
            if delta:
                self.stats.inc(name, delta)
        self._exported = stats

    monkeypatch.setattr(HttpConnectionManager, "_export_codec_stats", export)
    err = fails("model_hcm_codec_counters", http(codec="HTTP2"), _codec_counter_script())
    assert "h2_rejected_request exported 1, counted 2" in err.detail


# -- HTTP/1.1 owner resets: never more than the streams the connection manager ended as resets -------
def test_owner_resets_within_the_stream_resets_pass():
    counters = {"http.h1_reset_by_owner": 1, "http.downstream_rq_reset": 2, "http.in.h1_reset_by_owner": 1}
    counters["http.in.downstream_rq_reset"] = 1
    hcm_stats.check_owner_resets_bounded(counters)


def test_owner_resets_over_the_stream_resets_of_their_prefix_fail():
    counters = {"http.h1_reset_by_owner": 1, "http.downstream_rq_reset": 3, "http.in.h1_reset_by_owner": 2}
    counters["http.in.downstream_rq_reset"] = 1
    with pytest.raises(oracles.InvariantViolation, match="model_h1_owner_resets_bounded") as caught:
        hcm_stats.check_owner_resets_bounded(counters)
    assert "http.in.h1_reset_by_owner = 2" in caught.value.detail


def _aborted_response_script():
    """A response the proxy started to an HTTP/1.1 client that reads 16 KiB, then the upstream resets:
    the connection manager resets the stream, so the codec aborts the response (one owner reset)."""
    from fuzz.session import Action as A

    body = b"x" * 65536
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    return [
        A("send", payload=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        A("upstream_connect"),
        A("upstream_read"),
        A("upstream_send", payload=head + body[:32768]),
        A("read", value=16384),
        A("upstream_reset"),
    ]


def test_an_aborted_response_is_one_owner_reset():
    from tests.fuzz.test_liveness import http, run

    s = run(http(), _aborted_response_script())
    counters = s.ctx.stats.counters
    assert counters["http.h1_reset_by_owner"] == 1 and counters["http.downstream_rq_reset"] == 1


def test_the_first_owner_reset_counted_twice_is_caught(monkeypatch):
    # The surviving mutant of reports/bench/mutants-http-2026-12-05.md: get(..., 0) -> get(..., 1).
    from proxy.http.h1 import H1ServerCodec
    from tests.fuzz.test_liveness import fails, http

    real = H1ServerCodec.reset_stream

    def count_the_first_twice(self, stream_id, reason="reset by owner"):
        before = self.stats.get("h1_reset_by_owner")
        real(self, stream_id, reason)
        if before is None and "h1_reset_by_owner" in self.stats:
            self.stats["h1_reset_by_owner"] += 1

    monkeypatch.setattr(H1ServerCodec, "reset_stream", count_the_first_twice)
    err = fails("model_h1_owner_resets_bounded", http(), _aborted_response_script())
    assert "http.h1_reset_by_owner = 2" in err.detail
