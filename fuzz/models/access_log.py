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

Each record's `proxy.response_flags` are Envoy's %RESPONSE_FLAGS% (access log docs, "Command
Operators", RESPONSE_FLAGS): each names a failure and the side it came from (UF upstream connection
failure, UO upstream overflow, UC upstream connection termination, UR upstream remote reset, UPE
upstream protocol error, UT upstream request timeout, NR no route, RL rate limited, FI fault abort,
DC downstream connection termination, DPE downstream protocol error, SI stream idle timeout, ...),
DI alone reports no failure (the request was delayed by fault injection). So an exchange whose client
read whole the response its one upstream sent whole (same status and body) failed nowhere: its record
carries no flag but DI (model_access_log_flags). A flag set from the wrong side, or on every exchange
its connection carried, shows there. The other way round, DC is what the end of the downstream
connection leaves on the streams it catches open (Envoy's HCM onEvent: the client closed or reset it,
or the proxy ended it against a flood). A stream the proxy resets itself (an upstream's close
mid-body, a route timeout after the head; HTTP/1.1 makes that reset a close) ends before its
connection does, and its record flags the cause alone. So a client that did nothing to end its
connection or a stream of it has no record flagging DC, but for HTTP/1.1 requests queued behind one
the proxy cut short: the same close catches them open (model_access_log_client_blamed).
"""

from collections import Counter

from fuzz.oracles import InvariantViolation


class StatusLog:
    """The session's access log sink (every connection manager's): the statuses its records carry."""

    def __init__(self) -> None:
        self.statuses: Counter = Counter()
        self.clients: Counter = Counter()  # (client.address, client.port) of each record
        self.body_sizes: Counter = Counter()  # (client, method, status, "request" | "response", bytes)
        self.flagless: Counter = Counter()  # (client, method, status) of records flagging no failure
        self.flags: dict = {}  # (client, method, status) -> Counter of the flags of its other records
        self.client_gone: Counter = Counter()  # client -> its records flagging DC
        self.flagged: Counter = Counter()  # flag -> the records carrying it (fuzz.models.flag_counters)

    def write(self, record: dict) -> None:
        attributes = record["attributes"]
        status = attributes["http.response.status_code"]
        self.statuses[status] += 1
        self.flagged.update(set(attributes["proxy.response_flags"].split(",")) - {"-"})
        if "client.address" in attributes:
            client = (attributes["client.address"], attributes["client.port"])
            self.clients[client] += 1
            for side in ("request", "response"):
                key = (client, attributes["http.request.method"], status, side, attributes[f"http.{side}.body.size"])
                self.body_sizes[key] += 1
            exchange = (client, attributes["http.request.method"], status)
            flags = attributes["proxy.response_flags"]
            if CLIENT_GONE in flags.split(","):
                self.client_gone[client] += 1
            if set(flags.split(",")) <= NO_FAILURE:
                self.flagless[exchange] += 1
            else:
                self.flags.setdefault(exchange, Counter())[flags] += 1


NO_FAILURE = {"-", "DI"}  # %RESPONSE_FLAGS% with no failure: none, or a fault delay
CLIENT_GONE = "DC"  # downstream connection termination


def heads_read(exchanges, logged_hcm) -> Counter:
    """Final response heads the clients read on ended exchanges whose connection manager logs."""
    seen: Counter = Counter()
    for ex in exchanges:
        if ex.outcome is not None and ex.response is not None and ex.response.status >= 200:
            if logged_hcm(ex.downstream):
                seen[ex.response.status] += 1
    return seen


def _read_whole_from_one_upstream(ex) -> bool:
    """The client read a whole final response to a request that reached exactly one upstream."""
    got = ex.response
    return (
        ex.outcome == "response" and got is not None and got.complete and got.status >= 200 and len(ex.upstreams) == 1
    )


def body_sizes_known(exchanges, logged_hcm, client_of) -> Counter:
    """The body sizes the records of these exchanges must carry, where the peers know them exactly:
    keys as StatusLog.body_sizes. `client_of(downstream index)`: the (address, port) records name."""
    known: Counter = Counter()
    for ex in exchanges:
        got = ex.response
        if not _read_whole_from_one_upstream(ex):
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


def forwarded_whole(exchanges, logged_hcm, client_of) -> Counter:
    """(client, method, status) of the exchanges on a logging connection manager whose client read
    whole the response its one upstream sent whole: same status and body."""
    out: Counter = Counter()
    for ex in exchanges:
        got = ex.response
        if not _read_whole_from_one_upstream(ex):
            continue
        answer = ex.upstreams[0].response
        if answer is None or not answer.complete or answer.status != got.status or answer.body != got.body:
            continue
        client = client_of(ex.downstream) if logged_hcm(ex.downstream) else None
        if client is not None:
            out[(client, ex.request.method.decode("latin-1"), got.status)] += 1
    return out


def check_flags(log: StatusLog, forwarded: Counter) -> None:
    for key, n in sorted(forwarded.items(), key=repr):
        if log.flagless[key] < n:
            client, method, status = key
            raise InvariantViolation(
                "model_access_log_flags",
                f"client {client}: {n} {method} exchange(s) got whole the {status} their upstream sent whole, "
                f"{log.flagless[key]} record(s) of them flag no failure; the others flag "
                f"{dict(log.flags.get(key, {}))}",
                judged="proxy/http/conn_manager.py:ActiveStream._log",
                expected=f">= {n} records flagged - (or DI)",
                observed=dict(log.flags.get(key, {})),
            )


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


def check_client_blamed(log: StatusLog, stayed: dict) -> None:
    """`stayed`: the clients that neither closed, reset nor half-closed their connection, nor reset
    a stream, nor sent anything their peer did not understand, each with the number of its HTTP/1.1
    requests queued behind one the proxy cut short (the proxy's close caught them open): no more of
    their records flag DC."""
    for client, queued in sorted(stayed.items()):
        if log.client_gone[client] > queued:
            raise InvariantViolation(
                "model_access_log_client_blamed",
                f"client {client} never closed, reset or half-closed its connection nor reset a stream, yet "
                f"{log.client_gone[client]} of its access log records flag DC (downstream connection termination); "
                f"{queued} of its requests were queued behind one the proxy cut short",
                judged="proxy/http/conn_manager.py:ActiveStream._log",
                expected=f"<= {queued} DC",
                observed=log.client_gone[client],
            )
