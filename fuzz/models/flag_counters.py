"""Access log response flags against the counters that count the same streams.

Envoy's access log %RESPONSE_FLAGS% (access log docs, "Command Operators") names what happened to a
stream, and the filter that made it happen counts it in its statistics. An operator reads either and
expects the same story: a flag missing from the log hides the cause of a slow or refused request, a
counter that does not move hides it from the dashboards.

  flag  the stream (access log docs)              the counter (the filter's or cluster's stats docs)
  UT    upstream request timeout, with its 504     the clusters' upstream_rq_timeout (summed)
  DI    delayed by fault injection                 http.fault.delays_injected (requests delayed)
  FI    aborted by fault injection                 http.fault.aborts_injected (requests aborted)
  RL    rate limited locally, with its 429         http.local_ratelimit.rate_limited

Each counter therefore counts at least the records flagged so (`logged`), and exactly as many when
every connection manager of the configuration writes an access log (each stream writes one record
when it ends, and a session ends every stream).
"""

from collections.abc import Callable
from dataclasses import dataclass

from fuzz.oracles import InvariantViolation

from .stats import cluster_total


@dataclass(frozen=True)
class FlaggedCount:
    flag: str
    counted: Callable[[dict], int]  # the counter(s) from the instance's counters
    counter: str  # its name, for the message
    violation: str
    judged: str


def _clusters(suffix: str) -> Callable[[dict], int]:
    return lambda counters: cluster_total(counters, suffix)


def _one(name: str) -> Callable[[dict], int]:
    return lambda counters: counters.get(name, 0)


FLAGGED_COUNTS = (
    FlaggedCount(
        "UT",
        _clusters(".upstream_rq_timeout"),
        "the clusters' upstream_rq_timeout",
        "model_upstream_rq_timeout",
        "proxy/http/filters/router.py:Router._on_timeout",
    ),
    FlaggedCount(
        "DI",
        _one("http.fault.delays_injected"),
        "http.fault.delays_injected",
        "model_fault_delay_flags",
        "proxy/http/filters/fault.py:HttpFaultFilter.decode_headers",
    ),
    FlaggedCount(
        "FI",
        _one("http.fault.aborts_injected"),
        "http.fault.aborts_injected",
        "model_fault_abort_flags",
        "proxy/http/filters/fault.py:HttpFaultFilter.decode_headers",
    ),
    FlaggedCount(
        "RL",
        _one("http.local_ratelimit.rate_limited"),
        "http.local_ratelimit.rate_limited",
        "model_local_ratelimit_flags",
        "proxy/http/filters/local_ratelimit.py:HttpLocalRateLimitFilter.decode_headers",
    ),
)


def check(counters: dict, logged: dict, every_manager_logs: bool) -> None:
    """`logged`: flag -> the access log records carrying it (fuzz.models.access_log.StatusLog)."""
    for f in FLAGGED_COUNTS:
        counted, flagged = f.counted(counters), logged.get(f.flag, 0)
        if counted < flagged or (every_manager_logs and counted != flagged):
            raise InvariantViolation(
                f.violation,
                f"the access log has {flagged} records flagged {f.flag}; {f.counter} counts {counted}"
                + (" (every connection manager logs)" if every_manager_logs else ""),
                judged=f.judged,
                expected=flagged if every_manager_logs else f">= {flagged}",
                observed=counted,
            )
