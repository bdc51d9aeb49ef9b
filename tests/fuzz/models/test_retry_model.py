"""The retry model (fuzz/models/retry.py, from Envoy's docs) and its session oracle
(model_retry_attempts): a request failed by connect failures makes num_retries + 1 attempts; a
router planted to give up one attempt early is caught."""

import pytest

from fuzz import oracles, session
from fuzz.models import retry
from tests.fuzz.test_liveness import http

GET = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"


def test_num_retries_is_the_number_of_attempts_after_the_first():
    policy = retry.RetryPolicy(frozenset([retry.CONNECT_FAILURE]), 2)
    assert retry.attempts(policy, retry.always(retry.CONNECT_FAILURE)) == 3
    assert retry.attempts(retry.NONE, retry.always(retry.CONNECT_FAILURE)) == 1
    assert retry.RetryPolicy().num_retries == 1  # route_components.proto: "defaults to 1"


def test_only_the_configured_conditions_trigger_a_retry():
    connect_only = retry.RetryPolicy(frozenset([retry.CONNECT_FAILURE]), 3)
    assert retry.attempts(connect_only, [retry.CONNECT_FAILURE, retry.RESET, retry.CONNECT_FAILURE]) == 2
    assert retry.attempts(connect_only, [503]) == 1
    assert not retry.is_trigger(connect_only, retry.REFUSED_STREAM)
    gateway = retry.RetryPolicy(frozenset(["gateway-error"]), 3)
    assert [retry.is_trigger(gateway, s) for s in (500, 502, 503, 504)] == [False, True, True, True]
    assert retry.is_trigger(gateway, retry.CONNECT_FAILURE)  # "5xx" and "gateway-error" include it
    codes = retry.RetryPolicy(frozenset(["retriable-status-codes"]), 1, retriable_status_codes=frozenset([418]))
    assert retry.attempts(codes, [418, 418, 418]) == 2
    assert retry.is_trigger(retry.RetryPolicy(frozenset(["retriable-4xx"])), 409)
    assert not retry.is_trigger(retry.RetryPolicy(frozenset(["reset"])), retry.PER_TRY_TIMEOUT)


def _failing_upstream(num_retries: int, failures: int):
    """One GET; the upstream connection attempts fail `failures` times (refused), then connect."""
    built = http(route=f", retry_policy: {{num_retries: {num_retries}}}")
    actions = [session.Action("connect"), session.Action("send", payload=GET)]
    actions += [session.Action("upstream_fail")] * failures + [session.Action("read")]
    return session.Session(built, models=True), actions


@pytest.mark.parametrize("num_retries", [1, 2])
def test_connect_failures_are_retried_num_retries_times(num_retries):
    s, actions = _failing_upstream(num_retries, num_retries + 1)
    s.run(actions)
    (ex,) = s.peers.exchanges
    assert ex.response.status == 503
    assert sum(t.failed_to_connect for t in s.network.times.values()) == num_retries + 1
    assert s.ctx.stats.counters["cluster.web.upstream_rq_retry"] == num_retries


def test_a_request_retried_after_a_connect_failure_reaches_its_upstream():
    s, actions = _failing_upstream(1, 1)
    s.run(actions)  # settling connects the second attempt and answers it
    (ex,) = s.peers.exchanges
    assert len(ex.upstreams) == 1 and ex.response.status != 503


@pytest.mark.parametrize("num_retries", [1, 2])
def test_a_router_giving_up_one_attempt_early_is_caught(monkeypatch, num_retries):
    from proxy.http.filters.router import Router

    real_attempt = Router._attempt

    def counted_twice(self):  # the planted bug: the first attempt counts as a retry already
        if self.attempts == 0:
            self.attempts += 1
        real_attempt(self)

    monkeypatch.setattr(Router, "_attempt", counted_twice)
    s, actions = _failing_upstream(num_retries, num_retries + 1)
    with pytest.raises(oracles.InvariantViolation, match="model_retry_attempts"):
        s.run(actions)


# fuzz (session from an empty corpus, 66 s on a clean clone of e3858d5; regression seed
# corpus/session/regress-retries-counted-from-the-final-head-not-100-continue): an Expect: 100-continue
# request whose retry failed to connect 1 ms after the 100 Continue; the oracle ended the request's
# window at the 100's time and saw one failed attempt of two.
EXPECTING = b"POST /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"


def _failing_after_continue():
    built = http(route=", retry_policy: {num_retries: 1}")
    actions = [session.Action("connect"), session.Action("send", payload=EXPECTING), session.Action("read")]
    actions += [session.Action("send", payload=b"ok"), session.Action("upstream_fail")]
    actions += [session.Action("advance", value=1), session.Action("upstream_fail")]
    return session.Session(built, models=True), actions + [session.Action("read")]


def test_attempts_are_counted_up_to_the_final_response_not_a_100_continue():
    s, actions = _failing_after_continue()
    s.run(actions)
    (ex,) = s.peers.exchanges
    assert ex.response.interim == [100] and ex.response.status == 503
    assert ex.response.started_ms < ex.response.final_head_ms
    assert sum(t.failed_to_connect for t in s.network.times.values()) == 2


def test_a_router_giving_up_early_after_a_100_continue_is_caught(monkeypatch):
    from proxy.http.filters.router import Router

    real = Router.on_pool_failure

    def no_retry(self, reason, flag):  # the planted bug: a connect failure is never retried
        self.attempts = 99
        real(self, reason, flag)

    monkeypatch.setattr(Router, "on_pool_failure", no_retry)
    s, actions = _failing_after_continue()
    with pytest.raises(oracles.InvariantViolation, match="model_retry_attempts"):
        s.run(actions)
