"""One token bucket per local rate limit filter in a server instance.

Envoy's local rate limit filters, network and HTTP, hold one token bucket per filter configuration,
shared by every connection and request the filter sees in the process (per-connection buckets are an
HTTP option, local_rate_limit_per_downstream_connection, which this proxy does not have). So a server
instance's shared state never holds more token buckets than its configuration has local_ratelimit
filters: more means some connection or request drew from a bucket of its own, with a fresh
allowance, and the configured rate held for it alone (`rate_limit_bucket_per_filter`). Each bucket is
judged against Envoy's token bucket elsewhere (fuzz/shared_buckets_paired.py); this is what they are
buckets of.
"""

from fuzz.oracles import InvariantViolation

from .config_walk import network_filters


def configured(bootstrap) -> int:
    """The local_ratelimit filters, network and HTTP, of every filter chain of every listener."""
    count = 0
    for f in network_filters(bootstrap):
        kind = f.WhichOneof("filter")
        if kind == "local_ratelimit":
            count += 1
        elif kind == "http_connection_manager":
            http = f.http_connection_manager.http_filters
            count += sum(1 for h in http if h.WhichOneof("filter") == "local_ratelimit")
    return count


def check(shared: dict, filters: int) -> None:
    """`shared` is the instance's shared state (ServerContext.shared), `filters` configured()."""
    buckets = [
        state
        for state in shared.values()
        if isinstance(getattr(state, "tokens", None), int) and isinstance(getattr(state, "max_tokens", None), int)
    ]
    if len(buckets) > filters:
        raise InvariantViolation(
            "rate_limit_bucket_per_filter",
            f"{len(buckets)} token buckets for {filters} local_ratelimit filter(s): a connection or request "
            "got a bucket of its own instead of its filter's",
            judged="proxy.network.filters.local_ratelimit.token_bucket",
            expected=filters,
            observed=len(buckets),
        )
