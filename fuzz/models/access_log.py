"""The access log against what clients read.

Envoy's access log `%RESPONSE_CODE%` is the status of the response sent downstream, a stream reset
after its head included (the reset shows in the response flags); our records carry it as
`http.response.status_code` (proxy/http/access_log.py: 0 only when no head was sent). So every final
response head a client read, on a connection manager with an access log, is in that log with its
status: per status, at least as many records as heads read (more when a client never read what was
sent). The HTTP/1.1 codec's own error replies (400, 505, ...) included: Envoy logs them with flag DPE,
and a refused smuggling attempt that leaves no record hides from the operator.
"""

from collections import Counter

from fuzz.oracles import InvariantViolation


class StatusLog:
    """The session's access log sink (every connection manager's): the statuses its records carry."""

    def __init__(self) -> None:
        self.statuses: Counter = Counter()

    def write(self, record: dict) -> None:
        self.statuses[record["attributes"]["http.response.status_code"]] += 1


def heads_read(exchanges, logged_hcm) -> Counter:
    """Final response heads the clients read on ended exchanges whose connection manager logs."""
    seen: Counter = Counter()
    for ex in exchanges:
        if ex.outcome is not None and ex.response is not None and ex.response.status >= 200:
            if logged_hcm(ex.downstream):
                seen[ex.response.status] += 1
    return seen


def check(log: StatusLog, seen: Counter) -> None:
    for status, n in sorted(seen.items()):
        if log.statuses[status] < n:
            raise InvariantViolation(
                "model_access_log_status",
                f"clients read {n} response heads of status {status}; the access log has "
                f"{log.statuses[status]} records with it (statuses logged: {dict(log.statuses)})",
                expected=f">= {n}",
                observed=log.statuses[status],
            )
