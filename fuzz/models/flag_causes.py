"""Each access log response flag against the cause Envoy documents for it.

Envoy's %RESPONSE_FLAGS% (access log docs, "Command Operators", RESPONSE_FLAGS) each name what
happened to a stream; an operator reads a flag as that cause and goes looking for it (the upstream
host that refused connections, the breaker that overflowed, the route whose timeout fired). A flag
whose cause did not happen sends them the wrong way. What the session recorded, per record:

  flag  Envoy's meaning                                the cause the session must have seen
  UF    upstream connection failure (with its 503)     a connection to a host of the record's cluster
                                                       closed before it was established
  UO    upstream overflow (circuit breaking)           a breaker of that cluster the session could fill:
                                                       more requests than max_pending_requests or
                                                       max_requests, or max_connections connections
                                                       opened to its hosts
  UR    upstream remote reset                          an upstream of that cluster that spoke (RST_STREAM
                                                       and GOAWAY are bytes), or ended or reset its side
                                                       (the proxy's own close is no remote reset)
  UC    upstream connection termination                a connection to that cluster's hosts that closed,
                                                       or whose upstream ended its side
  UPE   the upstream response had a protocol error     an upstream of that cluster that spoke
  LR    connection local reset                         a connection to that cluster's hosts was opened
                                                       (the proxy reset a stream on it)
  UT    upstream request timeout (with its 504)        the record's route has a timeout (RouteAction
                                                       timeout, 15 s by default, 0 disables) no longer
                                                       than the record's duration
A flag outside the list Envoy documents (the same section, "HTTP and TCP" and "HTTP only": UH UF
UO NR URX NC DT, DC LH UT LR UR UC DI FI RL UAEX RLSE IH SI DPE UPE UMSDR OM DF) names no cause an
operator can look up: Envoy's RBAC filter, for one, sets no flag on a denial (only the response code
details, rbac_access_denied_matched_policy[...]), so a record flagging `RBAC` is one Envoy never writes
(model_access_log_flag_undocumented).
DC (downstream connection termination) is judged in fuzz.models.access_log (model_access_log_client_blamed),
the flags with counters in fuzz.models.flag_counters. A flag that names a cluster's failure on a
record naming no cluster has no cause either (Envoy's router sets the cluster before it asks a pool).
Violations: model_access_log_flag_cause. The converse where the session knows the cause for sure: a
local 503 after connect failures is flagged UF (model_access_log_connect_failure_unflagged).
"""

from collections import Counter
from typing import NamedTuple

from fuzz.oracles import InvariantViolation

from . import breakers, routing
from .config_walk import connection_managers

UPSTREAM_FLAGS = frozenset({"UF", "UO", "UR", "UC", "UPE", "LR"})
# %RESPONSE_FLAGS%' documented values (docs/root/configuration/observability/access_log/usage.rst).
DOCUMENTED_FLAGS = frozenset(
    "UH UF UO NR URX NC DT DC LH UT LR UR UC DI FI RL UAEX RLSE IH SI DPE UPE UMSDR OM DF".split()
)


class Upstream(NamedTuple):
    """One upstream connection the proxy opened, as its peer and the connection's events saw it by
    the time a record was written."""

    endpoint: tuple  # (host, port)
    failed_to_connect: bool  # closed before it was established
    closed: bool
    spoke: bool  # the upstream sent bytes
    ended: bool  # the upstream ended its side or reset the connection


class Recorder:
    """An access log sink in front of `sink`: keeps each record's attributes with `upstreams_now()`,
    the session's Upstream facts at the time it was written (a cause comes before its record)."""

    def __init__(self, sink, upstreams_now) -> None:
        self.sink, self.upstreams_now = sink, upstreams_now
        self.records: list = []  # (attributes, (Upstream, ...))

    def write(self, record: dict) -> None:
        self.records.append((record["attributes"], self.upstreams_now()))
        self.sink.write(record)


def check(records, boot, requests: int) -> None:
    """`records`: Recorder.records; `boot`: the Bootstrap message; `requests`: how many requests the
    session's clients made."""
    clusters = {c.name: c for c in boot.clusters}
    routes = _route_timeouts(boot)
    for attributes, upstreams in records:
        flags = set(attributes.get("proxy.response_flags", "-").split(",")) - {"-"}
        name = attributes.get("proxy.upstream.cluster", "-")
        cluster = clusters.get(name)
        undocumented = sorted(flags - DOCUMENTED_FLAGS)
        if undocumented:
            raise InvariantViolation(
                "model_access_log_flag_undocumented",
                f"an access log record ({attributes.get('http.request.method')} "
                f"{attributes.get('http.response.status_code')}) flags {','.join(undocumented)}, "
                "a response flag Envoy does not document",
                judged="proxy/http/conn_manager.py:ActiveStream._log",
                expected=f"flags among {' '.join(sorted(DOCUMENTED_FLAGS))}",
                observed=attributes.get("proxy.response_flags"),
            )
        for flag in sorted(flags):
            if flag in UPSTREAM_FLAGS:
                why = cluster is not None and _upstream_cause(flag, cluster, upstreams, requests)
            elif flag == "UT":
                why = _timeout_cause(routes, attributes)
            else:
                continue
            if not why:
                raise InvariantViolation(
                    "model_access_log_flag_cause",
                    f"an access log record ({attributes.get('http.request.method')} "
                    f"{attributes.get('http.response.status_code')}, cluster {name}, route "
                    f"{attributes.get('proxy.route')}, {attributes.get('proxy.duration_ms')} ms) flags {flag}, "
                    f"but nothing in the session caused it before the record ({_MEANING[flag]})",
                    judged="proxy/http/conn_manager.py:ActiveStream._log",
                    expected=f"no {flag}",
                    observed=attributes.get("proxy.response_flags"),
                )


def check_connect_failures_flagged(records, failed) -> None:
    """The converse for UF: `failed` counts per (client, method) the requests answered 503 after every
    connection to their clusters' hosts in their time failed to connect (fuzz.models.session_oracle,
    the retry model's view): as many of that client's 503 records flag UF ("Upstream connection
    failure in addition to 503 response code"); else the log hides which hosts are down."""
    flagged: Counter = Counter()
    for attributes, _ in records:
        if attributes.get("http.response.status_code") == 503 and "UF" in attributes["proxy.response_flags"].split(","):
            client = (attributes.get("client.address"), attributes.get("client.port"))
            flagged[(client, attributes.get("http.request.method"))] += 1
    for key, n in sorted(failed.items(), key=repr):
        if flagged[key] < n:
            raise InvariantViolation(
                "model_access_log_connect_failure_unflagged",
                f"client {key[0]}: {n} {key[1]} request(s) answered 503 after their upstream connections "
                f"failed to connect; {flagged[key]} of its 503 records flag UF",
                judged="proxy/http/filters/router.py:Router.on_pool_failure",
                expected=f">= {n} records flagged UF",
                observed=flagged[key],
            )


_MEANING = {
    "UF": "no connection to the cluster's hosts failed to connect",
    "UO": "no breaker of the cluster could have been full",
    "UR": "no upstream of the cluster spoke, ended or reset its side",
    "UC": "no connection to the cluster's hosts closed or was ended",
    "UPE": "no upstream of the cluster sent anything",
    "LR": "no connection to the cluster's hosts was opened",
    "UT": "the route has no timeout this short",
}


def _upstream_cause(flag: str, cluster, upstreams, requests: int) -> bool:
    hosts = breakers.endpoints(cluster)
    mine = [u for u in upstreams if tuple(u.endpoint) in hosts]
    if flag == "UF":
        return any(u.failed_to_connect for u in mine)
    if flag == "UO":
        return requests > min(breakers.request_limits(cluster).values()) or len(mine) >= breakers.max_connections(
            cluster
        )
    if flag == "UR":
        return any(u.spoke or u.ended for u in mine)
    if flag == "UC":
        return any(u.closed or u.ended for u in mine)
    if flag == "UPE":
        return any(u.spoke for u in mine)
    return bool(mine)  # LR: a connection to the cluster's hosts was opened


def _timeout_cause(routes: dict, attributes) -> bool:
    timeouts = routes.get(attributes.get("proxy.route"), ())
    duration = attributes.get("proxy.duration_ms", 0)
    return any(t and duration >= t for t in timeouts)


def _route_timeouts(boot) -> dict:
    """Route name ("<virtual host>/<index>", as the records name it) -> the timeouts of the routes of
    that name in any connection manager of the configuration."""
    out: dict = {}
    for hcm in connection_managers(boot):
        for vh in hcm.route_config.virtual_hosts:
            for i, route in enumerate(vh.routes):
                if route.WhichOneof("action") == "route":
                    out.setdefault(f"{vh.name}/{i}", set()).add(routing.action_timeout_ms(route.route))
    return out
