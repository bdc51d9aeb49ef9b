"""The response counters a user reads against the responses the peers saw.

Envoy's HTTP connection manager statistics (configuration/http/http_conn_man/stats):
`downstream_rq_total` "Total requests", `downstream_rq_1xx` .. `downstream_rq_5xx` "Total 1xx (..5xx)
responses"; ours add `downstream_rq_<code>` per status, counted with its class. So, under each stat
prefix (`http.` and `http.<stat_prefix>.`):
  - each class counter is the sum of its codes' counters (model_stats_class_is_its_codes);
  - a request gets one final response at most, so the classes add up to no more than the requests
    (model_stats_more_responses_than_requests);
  - every final response a client read whole was sent, so each code's and each class's counter is
    at least what the clients read (model_stats_responses_by_code / _by_class; more when a client
    never read what was sent to it).
Envoy's cluster statistics (configuration/upstream/cluster_manager/cluster_stats, dynamic HTTP
statistics): `upstream_rq_<*xx>` "Aggregate HTTP response codes (e.g., 2xx, 3xx, etc.)" and
`upstream_rq_<*>` "Specific HTTP response codes", of the responses the cluster's upstreams sent. So
each cluster's class counter is the sum of its codes' counters (model_stats_upstream_class_is_its_codes),
and per cluster and status:
  - at least the exchanges whose client read whole the response its one upstream sent whole, same
    status and body (model_stats_upstream_responses_uncounted);
  - at most the final response heads the cluster's upstream peers sent with that status, judged
    where every upstream connection of the cluster has a peer that read it, and what it sent is known
    (no raw frames of the fuzzer's, no bytes its parser refused) (model_stats_upstream_responses_unsent).
"""

import re
from collections import Counter

from fuzz.oracles import InvariantViolation

_STATUS = re.compile(r"(http\.(?:.*\.)?)downstream_rq_([1-9])(xx|\d\d)")
_UPSTREAM_STATUS = re.compile(r"(cluster\..+\.)upstream_rq_([1-9])(xx|\d\d)")
_UPSTREAM = re.compile(r"cluster\.(.+)\.upstream_rq_([1-9]\d\d)")


def _read_whole(ex) -> bool:
    got = ex.response
    return ex.outcome == "response" and got is not None and got.complete and got.status >= 200


def check_downstream(counters: dict, exchanges) -> None:
    """`counters`: the instance's counters; `exchanges`: fuzz.peers records."""
    read = Counter(ex.response.status for ex in exchanges if _read_whole(ex))
    by_class_read: Counter = Counter()
    for status, n in read.items():
        by_class_read[status // 100] += n
    for what, seen, name in (("class", by_class_read, "downstream_rq_{}xx"), ("code", read, "downstream_rq_{}")):
        for key, n in sorted(seen.items()):
            counted = counters.get("http." + name.format(key), 0)
            if n > counted:  # the HTTP/1.1 codec's own error replies (400, 505, ...) count too
                raise InvariantViolation(
                    f"model_stats_responses_by_{what}",
                    f"clients read {n} complete responses of {what} {key}, http.{name.format(key)} = {counted}",
                    judged="proxy/http/conn_manager.py:HttpConnectionManager.count_response",
                    expected=f">= {n}",
                    observed=counted,
                )
    classes = _check_classes(
        counters,
        _STATUS,
        "downstream_rq",
        "model_stats_class_is_its_codes",
        "proxy/http/conn_manager.py:HttpConnectionManager.count_response",
    )
    for prefix, by_class in sorted(classes.items()):
        total = counters.get(prefix + "downstream_rq_total", 0)
        if sum(by_class.values()) > total:
            raise InvariantViolation(
                "model_stats_more_responses_than_requests",
                f"{prefix}downstream_rq_<N>xx add up to {sum(by_class.values())} responses "
                f"({dict(by_class)}), over {prefix}downstream_rq_total = {total}",
                judged="proxy/http/conn_manager.py:HttpConnectionManager.count_response",
                expected=f"<= {total}",
                observed=sum(by_class.values()),
            )


def _check_classes(counters: dict, pattern, family: str, invariant: str, judged: str) -> dict:
    """Each class counter `<prefix><family>_<N>xx` is the sum of its codes' `<prefix><family>_<code>`
    (`pattern`'s groups: the prefix, the class digit, "xx" or the code's last two digits); returns the
    class counters by prefix."""
    classes: dict = {}  # prefix -> {class: counter}
    codes: dict = {}  # prefix -> {class: sum of its codes' counters}
    for name, value in counters.items():
        m = pattern.fullmatch(name)
        if m:
            prefix, cls, rest = m.groups()
            into = classes if rest == "xx" else codes
            into.setdefault(prefix, Counter())[int(cls)] += value
    for prefix in sorted(set(classes) | set(codes)):
        by_class, by_codes = classes.setdefault(prefix, Counter()), codes.get(prefix, Counter())
        if +by_class != +by_codes:
            raise InvariantViolation(
                invariant,
                f"{prefix}{family}_<N>xx {dict(by_class)} differ from the sums of their codes' "
                f"{prefix}{family}_<code> {dict(by_codes)}",
                judged=judged,
                expected=dict(by_codes),
                observed=dict(by_class),
            )
    return classes


def check_upstream(counters: dict, exchanges, servers, opened, cluster_of) -> None:
    """`servers`: fuzz.peers' upstream peers, one per connection in `opened` (None or False where no
    HTTP peer read it); `cluster_of(conn)`: the cluster that opened a connection."""
    _check_classes(
        counters,
        _UPSTREAM_STATUS,
        "upstream_rq",
        "model_stats_upstream_class_is_its_codes",
        "proxy/http/filters/router.py:Router.on_upstream_headers",
    )
    forwarded: Counter = Counter()
    for ex in exchanges:
        if _read_whole(ex) and len(ex.upstreams) == 1:
            answer = ex.upstreams[0].response
            if (
                answer is not None
                and answer.complete
                and answer.status == ex.response.status
                and bytes(answer.body) == bytes(ex.response.body)
            ):
                forwarded[(ex.upstreams[0].cluster, answer.status)] += 1
    for (cluster, status), n in sorted(forwarded.items(), key=repr):
        counted = counters.get(f"cluster.{cluster}.upstream_rq_{status}", 0)
        if counted < n:
            raise InvariantViolation(
                "model_stats_upstream_responses_uncounted",
                f"clients read {n} responses of status {status} that cluster {cluster}'s upstreams sent, "
                f"cluster.{cluster}.upstream_rq_{status} = {counted}",
                judged="proxy/http/filters/router.py:Router.on_upstream_headers",
                expected=f">= {n}",
                observed=counted,
            )
    unread = {cluster_of(conn) for i, conn in enumerate(opened) if i >= len(servers) or not servers[i]}
    sent: Counter = Counter()
    for server in filter(None, servers):
        responses = getattr(server, "responses", None)
        if responses is None:  # HTTP/2: the responses of the requests it read
            if server.tainted:  # the fuzzer's raw frames: what they answered is unknown
                unread.add(cluster_of(server.conn_))
            for up in server.seen:
                if up.response is not None and up.response.status >= 200:
                    sent[(up.cluster, up.response.status)] += 1
            continue
        # HTTP/1.1: every head its parser read, a response sent ahead of its request included; past
        # bytes the parser refused, what the proxy read is unknown
        cluster = cluster_of(server.conn_)
        if responses.error is not None:
            unread.add(cluster)
        for msg in responses.messages:
            if msg.status >= 200:
                sent[(cluster, msg.status)] += 1
    for name, counted in sorted(counters.items()):
        m = _UPSTREAM.fullmatch(name)
        if m is None or m.group(1) in unread:
            continue
        cluster, status = m.group(1), int(m.group(2))
        if counted > sent[(cluster, status)]:
            raise InvariantViolation(
                "model_stats_upstream_responses_unsent",
                f"{name} = {counted}, but cluster {cluster}'s upstreams sent {sent[(cluster, status)]} final "
                f"responses of status {status}",
                judged="proxy/http/filters/router.py:Router.on_upstream_headers",
                expected=f"<= {sent[(cluster, status)]}",
                observed=counted,
            )
