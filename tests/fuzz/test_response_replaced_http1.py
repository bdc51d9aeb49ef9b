"""response_replaced (fuzz/delivery.py) behind HTTP/1.1 upstreams: their peers do not track raw-byte
taint (only HTTP/2 ones do), and id-less requests with equal request lines are linked by a guess.
Found by network_filter's probe regression seed run unprobed (AttributeError on H1Server.tainted,
then a 503 for the first of two equal pipelined GETs judged against the upstream that served the
second). A proxy that answers 503 although its HTTP/1.1 upstream sent a whole 200 is still caught."""

from pathlib import Path

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A
from fuzz.targets import network_filter as nf
from tests.fuzz.test_liveness import GET, http, run

REGRESSION = Path(nf.__file__).resolve().parents[2] / "corpus" / "network_filter"
ANSWERED = [
    A("send", payload=GET),
    A("upstream_connect"),
    A("upstream_read"),
    A("upstream_send", payload=b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
    A("read"),
]


def test_equal_pipelined_requests_one_failed_to_connect_are_no_finding():
    data = (REGRESSION / "regression-hcm-probe-drops-response-head-start").read_bytes()
    at = 3 + int.from_bytes(data[1:3], "big")  # the probe mode byte follows the configuration
    nf.run(data[:at] + b"\x00" + data[at + 1 :])


def test_a_503_in_place_of_a_whole_http1_response_is_caught(monkeypatch):
    from proxy.http.filters.router import Router

    s = run(http(), ANSWERED)
    assert bytes(s.downstream[0].received).startswith(b"HTTP/1.1 200")

    def replaced(self, status, headers, end_stream, http_version):  # the planted bug
        self._local_reply(503, b"upstream connect error\n", "UF")

    monkeypatch.setattr(Router, "on_upstream_headers", replaced)
    with pytest.raises(InvariantViolation) as caught:
        run(http(), ANSWERED)
    assert caught.value.name == "response_replaced", str(caught.value)
