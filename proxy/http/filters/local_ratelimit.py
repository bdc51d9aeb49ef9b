"""HTTP local_ratelimit: one token per request from a token bucket shared by every stream of the
filter's listener (per server instance); an empty bucket answers 429 (response flag RL).

The bucket and its refill rules are the network filter's (proxy/network/filters/local_ratelimit.py).
Counters `http.local_ratelimit.`: allowed, rate_limited.
"""

from dataclasses import dataclass

from ...build_context import BuildContext
from ...network.filters.local_ratelimit import TokenBucket, token_bucket
from ..filter import CONTINUE, STOP_ITERATION, StreamFilter
from ..registry import register_http_filter


@dataclass(frozen=True, eq=False)
class HttpLocalRateLimitConfig:
    max_tokens: int
    tokens_per_fill: int
    fill_interval_ms: int


@register_http_filter("local_ratelimit")
def http_local_ratelimit_factory(msg, build: BuildContext):
    for field in ("max_tokens", "tokens_per_fill", "fill_interval_ms"):
        if getattr(msg, field) < 1:
            raise build.error("must be at least 1", field)
    config = HttpLocalRateLimitConfig(msg.max_tokens, msg.tokens_per_fill, msg.fill_interval_ms)
    return lambda ctx: HttpLocalRateLimitFilter(config, ctx)


class HttpLocalRateLimitFilter(StreamFilter):
    def __init__(self, config: HttpLocalRateLimitConfig, ctx) -> None:
        self.config = config
        self.ctx = ctx

    def decode_headers(self, head, end_stream):
        c = self.config
        bucket: TokenBucket = token_bucket(self.ctx, c, c.max_tokens, c.tokens_per_fill, c.fill_interval_ms)
        if bucket.try_take():
            self.ctx.stats.inc("http.local_ratelimit.allowed")
            return CONTINUE
        self.ctx.stats.inc("http.local_ratelimit.rate_limited")
        self.decoder_callbacks.send_local_reply(429, b"local rate limit exceeded\n", flags="RL")
        return STOP_ITERATION
