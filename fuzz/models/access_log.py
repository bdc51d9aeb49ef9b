"""The access log against what clients read.

Envoy's access log `%RESPONSE_CODE%` is the status of the response sent downstream, a stream reset
after its head included (the reset shows in the response flags); our records carry it as
`http.response.status_code` (proxy/http/access_log.py: 0 only when no head was sent). So every final
response head a client read, on a connection manager with an access log, is in that log with its
status: per status, at least as many records as heads read (more when a client never read what was
sent). The HTTP/1.1 codec's own error replies (400, 505, ...) included: Envoy logs them with flag DPE,
and a refused smuggling attempt that leaves no record hides from the operator.

Each record names its client (`client.address`, `client.port`): the downstream connection's remote
address as the listener filters left it, so behind a load balancer speaking the PROXY protocol the
client the header names, not the balancer (Envoy's %DOWNSTREAM_REMOTE_ADDRESS%). A record naming no
client the session connected from, or connected as, names the wrong one.
"""

from collections import Counter

from fuzz.oracles import InvariantViolation


class StatusLog:
    """The session's access log sink (every connection manager's): the statuses its records carry."""

    def __init__(self) -> None:
        self.statuses: Counter = Counter()
        self.clients: Counter = Counter()  # (client.address, client.port) of each record

    def write(self, record: dict) -> None:
        attributes = record["attributes"]
        self.statuses[attributes["http.response.status_code"]] += 1
        if "client.address" in attributes:
            self.clients[(attributes["client.address"], attributes["client.port"])] += 1


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


def check_clients(log: StatusLog, remote_addresses) -> None:
    """Every record names a client some downstream connection has as its remote address."""
    known = {(str(host), int(port)) for host, port in remote_addresses}
    strangers = sorted(client for client in log.clients if client not in known)
    if strangers:
        raise InvariantViolation(
            "model_access_log_client",
            f"the access log names clients {strangers} that no downstream connection has as its remote "
            f"address (the connections' remote addresses, after the listener filters: {sorted(known)})",
            expected=sorted(known),
            observed=strangers,
        )
