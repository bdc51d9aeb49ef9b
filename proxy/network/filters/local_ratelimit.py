"""local_ratelimit: a token bucket per filter chain, one token per new connection.

The bucket is shared by every connection of the filter chain in one server instance
(ctx.shared_state keyed by the filter's built config) and starts full. A connection that
finds it empty is closed NoFlush in on_new_connection (`rate_limited`); the filters after
this one never see it.

Refill: every fill_interval_ms, counted from the bucket's creation (Envoy's fixed fill
period), tokens_per_fill tokens are added up to max_tokens. The timer runs only while the
bucket is not full, so an idle proxy arms no timers and virtual time can jump far ahead
cheaply. Invariant, checked on every change: 0 <= tokens <= max_tokens.

Counters `local_ratelimit.` (and `local_ratelimit.<stat_prefix>.`): allowed, rate_limited.
"""

from dataclasses import dataclass

from ...build_context import BuildContext
from ..connection import CloseType
from ..filter import CONTINUE, STOP_ITERATION, ReadFilter
from ..registry import register_network_filter
from ._stats import FilterStats, stat_scopes


class TokenBucketInvariantError(AssertionError):
    pass


@dataclass(frozen=True, eq=False)
class LocalRateLimitConfig:
    max_tokens: int
    tokens_per_fill: int
    fill_interval_ms: int
    stat_scopes: tuple


class TokenBucket:
    def __init__(self, dispatcher, max_tokens: int, tokens_per_fill: int, fill_interval_ms: int) -> None:
        if max_tokens < 1 or tokens_per_fill < 1 or fill_interval_ms < 1:
            raise ValueError("token bucket needs max_tokens, tokens_per_fill and fill_interval_ms >= 1")
        self.dispatcher = dispatcher
        self.max_tokens = max_tokens
        self.tokens_per_fill = tokens_per_fill
        self.fill_interval_ms = fill_interval_ms
        self.tokens = max_tokens
        self.created_ms = dispatcher.now_ms()
        self._timer = dispatcher.create_timer(self._refill)

    def try_take(self) -> bool:
        if self.tokens == 0:
            return False
        self.tokens -= 1
        self._check()
        self._arm()
        return True

    def _arm(self) -> None:
        if self.tokens < self.max_tokens and not self._timer.enabled:
            into_period = (self.dispatcher.now_ms() - self.created_ms) % self.fill_interval_ms
            self._timer.enable(self.fill_interval_ms - into_period)

    def _refill(self) -> None:
        self.tokens = min(self.max_tokens, self.tokens + self.tokens_per_fill)
        self._check()
        self._arm()

    def _check(self) -> None:
        if not 0 <= self.tokens <= self.max_tokens:
            raise TokenBucketInvariantError(f"tokens={self.tokens} outside 0..{self.max_tokens}")


@register_network_filter("local_ratelimit")
def local_ratelimit_factory(msg, build: BuildContext):
    for field in ("max_tokens", "tokens_per_fill", "fill_interval_ms"):
        if getattr(msg, field) < 1:
            raise build.error("must be at least 1", field)
    config = LocalRateLimitConfig(
        max_tokens=msg.max_tokens,
        tokens_per_fill=msg.tokens_per_fill,
        fill_interval_ms=msg.fill_interval_ms,
        stat_scopes=stat_scopes("local_ratelimit", msg.stat_prefix),
    )

    def install(connection, ctx):
        connection.add_read_filter(LocalRateLimitFilter(config, ctx))

    return install


class LocalRateLimitFilter(ReadFilter):
    def __init__(self, config: LocalRateLimitConfig, ctx) -> None:
        self.config = config
        self.ctx = ctx
        self.stats = FilterStats(ctx.stats, config.stat_scopes)

    def bucket(self) -> TokenBucket:
        c = self.config
        return token_bucket(self.ctx, c, c.max_tokens, c.tokens_per_fill, c.fill_interval_ms)

    def on_new_connection(self):
        if self.bucket().try_take():
            self.stats.inc("allowed")
            return CONTINUE
        self.stats.inc("rate_limited")
        conn = self.callbacks.connection
        conn.stream_info["failure"] = "rate_limited"
        conn.close(CloseType.NO_FLUSH)
        return STOP_ITERATION


def token_bucket(ctx, key, max_tokens: int, tokens_per_fill: int, fill_interval_ms: int) -> TokenBucket:
    """The bucket of the filter whose built configuration is `key`, shared by all its connections
    or requests in this instance (and across worker processes when ctx.token_buckets says so)."""

    def make():
        if ctx.token_buckets is not None:
            return ctx.token_buckets(key, max_tokens, tokens_per_fill, fill_interval_ms)
        return TokenBucket(ctx.dispatcher, max_tokens, tokens_per_fill, fill_interval_ms)

    return ctx.shared_state(key, make)
