"""Envoy's route retry policy, from its documentation; and when each upstream connection came and went.

Sources (Envoy docs):
  - route_components.proto RetryPolicy: `retry_on` ("specifies the conditions under which retry
    takes place"), `num_retries` ("Specifies the allowed number of retries. This parameter is
    optional and defaults to 1"), `per_try_timeout` (each attempt's own deadline, itself a retry
    condition), `retriable_status_codes` (with `retriable-status-codes` in retry_on).
  - router filter, "x-envoy-retry-on": `5xx` (any 5xx response, and what does not answer at all:
    disconnect, reset, read timeout; includes `connect-failure` and `refused-stream`),
    `gateway-error` (502, 503, 504), `reset` (a disconnect, reset or read timeout before any
    response), `connect-failure` ("a connection failure to the upstream server (connect timeout,
    etc.)"), `retriable-4xx` (409), `refused-stream` (REFUSED_STREAM), `retriable-status-codes`.
  - router filter, "x-envoy-max-retries": with a retry policy in place Envoy retries once unless a
    number is given; "A few notes on how Envoy does retries": the route timeout spans every attempt;
    a request is retried at most num_retries times, so it gets at most num_retries + 1 attempts.
Ours (docs/semantics.md, "route retries"): `retry_policy.num_retries` only, a plain uint32 (unset
and `{}` are 0), and retry_on is connect-failure alone; no per-try timeout, no status codes.
"""

from dataclasses import dataclass

from proxy.network.connection import ConnectionEvent
from proxy.network.filter import ConnectionCallbacks

# What ended one attempt, as the retry conditions name them.
CONNECT_FAILURE = "connect-failure"  # refused, or the connect timeout ran out
REFUSED_STREAM = "refused-stream"  # HTTP/2 RST_STREAM(REFUSED_STREAM) before any response
RESET = "reset"  # the upstream disconnected or reset before the response headers
PER_TRY_TIMEOUT = "per-try-timeout"

_NO_RESPONSE = (CONNECT_FAILURE, REFUSED_STREAM, RESET, PER_TRY_TIMEOUT)
_GATEWAY = frozenset((502, 503, 504))


@dataclass(frozen=True)
class RetryPolicy:
    retry_on: frozenset = frozenset()
    num_retries: int = 1  # route_components.proto: "defaults to 1"
    per_try_timeout_ms: int | None = None
    retriable_status_codes: frozenset = frozenset()


NONE = RetryPolicy(frozenset(), 0)


def from_route(action) -> RetryPolicy:
    """Our RouteAction's retry_policy as Envoy's (docs/semantics.md): connect-failure, num_retries as set."""
    return RetryPolicy(frozenset([CONNECT_FAILURE]), action.retry_policy.num_retries)


def is_trigger(policy: RetryPolicy, outcome) -> bool:
    """Whether an attempt that ended in `outcome` (one of the names above, or a response status) may
    be retried under `policy` (x-envoy-retry-on)."""
    on = policy.retry_on
    if isinstance(outcome, int):
        return (
            ("5xx" in on and 500 <= outcome <= 599)
            or ("gateway-error" in on and outcome in _GATEWAY)
            or ("retriable-4xx" in on and outcome == 409)
            or ("retriable-status-codes" in on and outcome in policy.retriable_status_codes)
        )
    if outcome == CONNECT_FAILURE:
        return bool(on & {"5xx", "gateway-error", "reset", CONNECT_FAILURE})
    if outcome == REFUSED_STREAM:
        return bool(on & {"5xx", REFUSED_STREAM, "reset"})
    if outcome == PER_TRY_TIMEOUT:
        return bool(on & {"5xx", "gateway-error", "reset"}) and policy.per_try_timeout_ms is not None
    if outcome == RESET:
        return bool(on & {"5xx", "gateway-error", "reset"})
    raise ValueError(f"unknown attempt outcome {outcome!r}")


def attempts(policy: RetryPolicy, outcomes) -> int:
    """How many attempts a request makes when its attempts would end in `outcomes`, in order (an
    iterable that may be endless): the first attempt, then one more after each retriable outcome,
    at most num_retries more."""
    made = 0
    for outcome in outcomes:
        made += 1
        if made > policy.num_retries or not is_trigger(policy, outcome):
            break
    return made


def always(outcome):
    """Every attempt ends in `outcome` (for attempts())."""
    while True:
        yield outcome


class UpstreamTimes(ConnectionCallbacks):
    """When one upstream connection was opened, connected (Connected raised: after a TLS handshake)
    and closed, in the session's virtual time: what the retry oracle reads to count the attempts
    that failed to connect (a connection closed without ever connecting)."""

    __slots__ = ("dispatcher", "opened_ms", "connected_ms", "closed_ms")

    def __init__(self, dispatcher) -> None:
        self.dispatcher = dispatcher
        self.opened_ms = dispatcher.now_ms()
        self.connected_ms: int | None = None
        self.closed_ms: int | None = None

    def on_event(self, event) -> None:
        if event is ConnectionEvent.CONNECTED:
            self.connected_ms = self.dispatcher.now_ms()
        elif self.closed_ms is None:
            self.closed_ms = self.dispatcher.now_ms()

    @property
    def failed_to_connect(self) -> bool:
        return self.connected_ms is None and self.closed_ms is not None

    def carried_traffic_during(self, start: int, end: int) -> bool:
        """Connected at some time within [start, end]: a request of that window may have used it."""
        return (
            self.connected_ms is not None
            and self.connected_ms <= end
            and (self.closed_ms is None or self.closed_ms >= start)
        )
