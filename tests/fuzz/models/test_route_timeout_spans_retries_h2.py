"""The route timeout spans every retry for HTTP/2 clients too (model_route_timeout_late,
fuzz/models/session_oracle.py _check_retries_within_route_timeout): an HTTP/2 request's read_ms
(fuzz/peers/downstream.py H2Client) bounds when the proxy had its end, as an HTTP/1.1 request's
does. Before, an HTTP/2 request was never judged, so a route timer re-armed by each retry went
unseen on every HTTP/2 listener. Planted by monkeypatch, it fails; the real proxy passes."""

import pytest

from fuzz import oracles
from fuzz.session import Action as A
from tests.fuzz.models.test_round6_http_models import RETRIES, built, rearm_the_route_timer_on_each_retry, run

H2 = {"codec": "HTTP2"}
# An HTTP/2 GET (send_request: the template the connection's codec speaks), connects that hang.
HANGING_H2 = [A("send_request", payload=bytes(6))] + [A("advance", value=100)] * 10 + [A("read")]


def statuses(s) -> list:
    return [ex.response.status for ex in s.peers.exchanges]


def test_an_http2_request_whose_retries_outlast_the_route_timeout_gets_a_504():
    s = run(built(cluster={"connect_timeout_ms": 100}, hcm=H2, **RETRIES), HANGING_H2)
    assert [ex.protocol for ex in s.peers.exchanges] == ["HTTP/2"]
    assert statuses(s) == [504]
    assert s.peers.exchanges[0].request.read_ms == 0


def test_a_route_timeout_restarted_by_each_retry_is_caught_on_http2(monkeypatch):
    rearm_the_route_timer_on_each_retry(monkeypatch)
    with pytest.raises(oracles.InvariantViolation, match="model_route_timeout_late"):
        run(built(cluster={"connect_timeout_ms": 100}, hcm=H2, **RETRIES), HANGING_H2)


def test_http2_retries_that_end_before_the_route_timeout_are_not_judged_late():
    s = run(built(cluster={"connect_timeout_ms": 40}, hcm=H2, **RETRIES), HANGING_H2)  # five failures by 200 ms
    assert statuses(s) == [503]
