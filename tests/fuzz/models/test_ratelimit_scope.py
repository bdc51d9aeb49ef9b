"""rate_limit_bucket_per_filter (fuzz/models/ratelimit_scope.py): a server instance holds at most one
token bucket per local_ratelimit filter. The committed seed below sends one request on each of three
connections through examples/http_features.yaml (an HTTP local_ratelimit filter): it replays clean,
and limiter state scoped per connection or per request, planted by monkeypatch, fails it."""

import pytest

from fuzz import oracles, session
from fuzz.models import ratelimit_scope
from proxy.http.filters import local_ratelimit
from proxy.network.filters.local_ratelimit import token_bucket
from tests.fuzz.test_round6_http_shapes import replay  # committed session seeds by glob, run in turn

SEED = "http_features-hostile_paths-r0-*"


def scoped(key_of):
    """decode_headers whose bucket is keyed by key_of(filter) instead of the filter's configuration."""

    def decode_headers(self, head, end_stream):
        c = self.config
        bucket = token_bucket(self.ctx, key_of(self), c.max_tokens, c.tokens_per_fill, c.fill_interval_ms)
        if bucket.try_take():
            self.ctx.stats.inc("http.local_ratelimit.allowed")
            return local_ratelimit.CONTINUE
        self.ctx.stats.inc("http.local_ratelimit.rate_limited")
        self.decoder_callbacks.send_local_reply(429, b"local rate limit exceeded\n", flags="RL")
        return local_ratelimit.STOP_ITERATION

    return decode_headers


def test_the_examples_count_their_filters():
    pool = session.ConfigPool.default()
    index = next(i for i, name in enumerate(pool.names) if name.endswith("http_features.yaml"))
    assert ratelimit_scope.configured(session.bootstrap_of(pool.built[index])) >= 1


def test_the_seed_replays_clean():
    assert replay(SEED) == 1


@pytest.mark.parametrize(
    "key_of",
    [lambda f: (f.config, f.decoder_callbacks.connection), lambda f: (f.config, f)],
    ids=["per-connection", "per-request"],
)
def test_a_bucket_scoped_below_its_filter_is_caught(monkeypatch, key_of):
    monkeypatch.setattr(local_ratelimit.HttpLocalRateLimitFilter, "decode_headers", scoped(key_of))
    with pytest.raises(oracles.InvariantViolation, match="rate_limit_bucket_per_filter"):
        replay(SEED)
