"""fuzz/peers/h2_wire.py, h2_wire_unearned_refused_stream: a client that keeps to the proxy's advertised
SETTINGS_MAX_CONCURRENT_STREAMS gets no REFUSED_STREAM (RFC 9113 5.1.2), shown on the real proxy (two
streams under a limit of 2) and on a planted off-by-one (the limit checked one too low)."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A
from tests.fuzz.test_liveness import http, run

LIMIT_2 = "http2_protocol_options: {max_concurrent_streams: 2}"
UPLOAD = b"\x00\x00\x00\x00\x40\x00"  # payloads.h2_request: a GET whose upload stays open (streaming bit)
TWO_STREAMS = [A("send_http", value=3, payload=UPLOAD), A("send_http", value=3, payload=UPLOAD), A("read")]


def test_two_streams_under_a_limit_of_two_are_both_taken():
    s = run(http(codec="HTTP2", hcm=LIMIT_2), TWO_STREAMS)
    assert s.ctx.stats.counters["http.downstream_rq_total"] == 2
    assert "http.h2_too_many_streams" not in s.ctx.stats.counters


def test_a_stream_refused_below_the_advertised_limit_is_found(monkeypatch):
    from dataclasses import replace

    from proxy.http import h2

    original = h2.H2ServerCodec._translate_more

    def one_short(self, ev, merged, events):  # the planted bug: the limit checked one too low
        limits = self.limits
        self.limits = replace(limits, h2_max_concurrent_streams=limits.h2_max_concurrent_streams - 1)
        try:
            original(self, ev, merged, events)
        finally:
            self.limits = limits

    monkeypatch.setattr(h2.H2ServerCodec, "_translate_more", one_short)
    with pytest.raises(InvariantViolation) as caught:
        run(http(codec="HTTP2", hcm=LIMIT_2), TWO_STREAMS)
    assert caught.value.name == "h2_wire_unearned_refused_stream", str(caught.value)


def test_streams_over_the_advertised_limit_may_be_refused():
    three = TWO_STREAMS[:2] + TWO_STREAMS
    s = run(http(codec="HTTP2", hcm=LIMIT_2), three)
    assert s.ctx.stats.counters["http.h2_too_many_streams"] >= 1
