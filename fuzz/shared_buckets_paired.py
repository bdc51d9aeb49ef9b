"""The workers' shared token buckets (proxy/shared_buckets.py) judged against the instance's own.

`--concurrency N` gives every rate limit filter a bucket all workers share, whose rules are stated to
be TokenBucket's (Envoy's: one bucket per filter per process). No harness forks workers, so in
sessions each filter's bucket is a pair: the instance's TokenBucket decides (the rate limit model
oracles judge it), and one shared slot, taken from through two handles as two workers would
(alternately), on the session's virtual clock, must give every take the answer Envoy's token bucket
(fuzz/models/ratelimit.py) gives at that time (`shared_bucket_differs`).
"""

from proxy.network.filters.local_ratelimit import TokenBucket
from proxy.shared_buckets import SharedBuckets

from .models import ratelimit
from .oracles import InvariantViolation

WORKERS = 2  # handles on one slot, as the workers of `--concurrency 2` hold
SLOTS = 64  # buckets one session makes at most (one per rate limit filter)


class PairedBucket:
    """TokenBucket's answers; the shared bucket's, at the same moments, checked against the model's."""

    def __init__(self, own: TokenBucket, shared: list) -> None:
        self.own, self.shared, self.takes = own, shared, 0
        self.model = ratelimit.Bucket(own.max_tokens, own.tokens_per_fill, own.fill_interval_ms)
        self.state = ratelimit.start(self.model)

    @property
    def tokens(self) -> int:  # oracles.check_token_buckets reads the bucket that decides
        return self.own.tokens

    @property
    def max_tokens(self) -> int:
        return self.own.max_tokens

    def try_take(self) -> bool:
        now = self.own.dispatcher.now_ms()
        worker = self.takes % len(self.shared)
        shared = self.shared[worker].try_take()
        want = ratelimit.take(self.model, self.state, now)
        self.takes += 1
        if shared != want:
            m = self.model
            raise InvariantViolation(
                "shared_bucket_differs",
                f"take {self.takes} at {now} ms (max_tokens {m.max_tokens}, {m.tokens_per_fill} per "
                f"{m.fill_interval_ms} ms): the workers' shared bucket (worker {worker}) "
                f"{'allowed' if shared else 'refused'} it, Envoy's token bucket {'allows' if want else 'refuses'} it",
                judged="proxy.shared_buckets.SharedTokenBucket.try_take",
                expected=want,
                observed=shared,
            )
        return self.own.try_take()


def factory(dispatcher):
    """A ServerContext.token_buckets making PairedBuckets on `dispatcher`'s clock."""
    store: list[SharedBuckets] = []  # made at the first bucket: most sessions have no rate limit

    def bucket(key, max_tokens: int, tokens_per_fill: int, fill_interval_ms: int) -> PairedBucket:
        if not store:
            store.append(SharedBuckets(SLOTS, clock=lambda: dispatcher.now_ms() * 1_000_000))
        own = TokenBucket(dispatcher, max_tokens, tokens_per_fill, fill_interval_ms)
        shared = [store[0].bucket(key, max_tokens, tokens_per_fill, fill_interval_ms) for _ in range(WORKERS)]
        return PairedBucket(own, shared)

    return bucket
