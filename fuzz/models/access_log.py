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

Each record counts the stream's body bytes (`http.request.body.size`, `http.response.body.size`:
Envoy's %BYTES_RECEIVED% and %BYTES_SENT% without the heads). Where the peers know both exactly, the
record says so: a request an upstream read whole, once, was received whole (however many reads or
frames it came in); a response an upstream sent and the client read whole was sent whole (HEAD, 204
and 304 aside: no body goes with them). Records are matched to exchanges by client, method and status.
"""

from collections import Counter

from fuzz.oracles import InvariantViolation


class StatusLog:
    """The session's access log sink (every connection manager's): the statuses its records carry."""

    def __init__(self) -> None:
        self.statuses: Counter = Counter()
        self.clients: Counter = Counter()  # (client.address, client.port) of each record
        self.body_sizes: Counter = Counter()  # (client, method, status, "request" | "response", bytes)

    def write(self, record: dict) -> None:
        attributes = record["attributes"]
        status = attributes["http.response.status_code"]
        self.statuses[status] += 1
        if "client.address" in attributes:
            client = (attributes["client.address"], attributes["client.port"])
            self.clients[client] += 1
            for side in ("request", "response"):
                key = (client, attributes["http.request.method"], status, side, attributes[f"http.{side}.body.size"])
                self.body_sizes[key] += 1


def heads_read(exchanges, logged_hcm) -> Counter:
    """Final response heads the clients read on ended exchanges whose connection manager logs."""
    seen: Counter = Counter()
    for ex in exchanges:
        if ex.outcome is not None and ex.response is not None and ex.response.status >= 200:
            if logged_hcm(ex.downstream):
                seen[ex.response.status] += 1
    return seen


def body_sizes_known(exchanges, logged_hcm, client_of) -> Counter:
    """The body sizes the records of these exchanges must carry, where the peers know them exactly:
    keys as StatusLog.body_sizes. `client_of(downstream index)`: the (address, port) records name."""
    known: Counter = Counter()
    for ex in exchanges:
        got = ex.response
        if ex.outcome != "response" or got is None or not got.complete or got.status < 200 or len(ex.upstreams) != 1:
            continue
        client = client_of(ex.downstream) if logged_hcm(ex.downstream) else None
        up = ex.upstreams[0]
        if client is None or up.request is None:
            continue
        key = (client, ex.request.method.decode("latin-1"), got.status)
        if ex.request.complete and up.request.complete:
            known[(*key, "request", len(up.request.body))] += 1
        answer = up.response
        forwarded = answer is not None and answer.complete and answer.status == got.status
        if forwarded and ex.request.method != b"HEAD" and got.status not in (204, 304):
            known[(*key, "response", len(got.body))] += 1
    return known


def check_body_sizes(log: StatusLog, known: Counter) -> None:
    for key, n in sorted(known.items(), key=repr):
        if log.body_sizes[key] < n:
            client, method, status, side, size = key
            logged = sorted((k[4], c) for k, c in log.body_sizes.items() if k[:4] == (client, method, status, side))
            raise InvariantViolation(
                "model_access_log_body_size",
                f"client {client}: {n} {method} exchange(s) with status {status} whose {side} body the peers "
                f"saw whole at {size} bytes; the access log's http.{side}.body.size for them: {logged} "
                "(size, records)",
                judged="proxy/http/conn_manager.py:ActiveStream._log",
                expected=size,
                observed=logged,
            )


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
