"""Counters a user reads, against what a model says moved.

A filter's counters are named `[http.]<family>.[<stat_prefix>.]<name>` (docs/semantics.md: Envoy
roots them at `<stat_prefix>.<family>.`; ours has the family first and repeats each counter under
the filter's stat_prefix). `counter_moves` compares every counter of one family between two
snapshots with the increments a model predicted: each counter named for a predicted `name` moved
by exactly that much, none of the family's other modelled names moved, and each predicted
increment shows in at least one counter.
"""

from fuzz.oracles import InvariantViolation


def family_counters(counters: dict, family: str, names) -> dict:
    """{counter name: modelled name} for the counters of `family` whose last part is in `names`."""
    out = {}
    for key in counters:
        parts = key.split(".")
        if parts[-1] in names and family in parts[:-1]:
            out[key] = parts[-1]
    return out


def counter_moves(before: dict, after: dict, family: str, names, expected: dict) -> list:
    """Problems (strings) where the counters of `family` did not move as `expected`
    ({modelled name: increment}); names modelled but absent from `expected` must not move."""
    problems = []
    seen = {n: False for n, v in expected.items() if v}
    for key, name in family_counters(after, family, names).items():
        moved = after.get(key, 0) - before.get(key, 0)
        if moved != expected.get(name, 0):
            problems.append(f"{key} moved by {moved}, expected {expected.get(name, 0)}")
        elif moved:
            seen[name] = True
    problems += [
        f"no {family} counter '{name}' moved (expected +{expected[name]})" for name, ok in seen.items() if not ok
    ]
    return problems


def check_listener_connections(counters: dict, connects: dict) -> None:
    """Envoy's listener statistics (config/listeners/stats): downstream_cx_total, "Total connections",
    one per connection the listener accepted, whatever then happens to it (listener filters, no
    matching chain, a filter closing it). `connects`: listener name -> connections its clients opened."""
    for name, opened in sorted(connects.items()):
        counted = counters.get(f"listener.{name}.downstream_cx_total", 0)
        if counted != opened:
            raise InvariantViolation(
                "model_listener_cx_total",
                f"listener {name}: clients opened {opened} connections, downstream_cx_total says {counted}",
                judged="proxy/network/listener.py:BuiltListener.create_connection",
                expected=opened,
                observed=counted,
            )


def check_upstream_requests_total(counters: dict) -> None:
    """Envoy's cluster statistic upstream_rq_total, "Total requests", counts a request when the pool
    attaches it to a connected upstream connection (ConnPoolImplBase::attachStreamToClient): an
    overflow, a request cancelled while it waited and an attempt whose connection failed are not
    requests that reached an upstream. The router retries only on connect failure (docs/semantics.md,
    route retries), before any attach, so each downstream request is attached at most once: the
    clusters' upstream_rq_total together never exceed http.downstream_rq_total."""
    attached = cluster_total(counters, ".upstream_rq_total")
    requests = counters.get("http.downstream_rq_total", 0)
    if attached > requests:
        raise InvariantViolation(
            "model_upstream_rq_total",
            f"the clusters' upstream_rq_total add up to {attached} for {requests} downstream requests "
            f"(upstream_rq_retry {cluster_total(counters, '.upstream_rq_retry')}, upstream_rq_pending_failure_eject "
            f"{cluster_total(counters, '.upstream_rq_pending_failure_eject')}): a request counted before it was "
            "attached to a connected upstream connection",
            judged="proxy/upstream/pool.py:ClusterHttpPool",
            expected=f"at most {requests}",
            observed=attached,
        )


def cluster_total(counters: dict, suffix: str) -> int:
    return sum(v for k, v in counters.items() if k.startswith("cluster.") and k.endswith(suffix))
