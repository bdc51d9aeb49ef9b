"""The workers' shared token buckets (proxy/shared_buckets.py) judged against the instance's own.

`--concurrency N` gives every rate limit filter a bucket all workers share, whose rules are stated to
be TokenBucket's (Envoy's: one bucket per filter per process). No harness forks workers, so in
sessions each filter's bucket is a pair: the instance's TokenBucket decides, and one shared slot,
taken from through two handles as two workers would (alternately), on the session's virtual clock,
must give the same answer to every take (`shared_bucket_differs`). The TokenBucket itself is judged
by the rate limit models (fuzz/models/ratelimit.py).
"""

from proxy.network.filters.local_ratelimit import TokenBucket
from proxy.shared_buckets import SharedBuckets

from .oracles import InvariantViolation

WORKERS = 2  # handles on one slot, as the workers of `--concurrency 2` hold
SLOTS = 64  # buckets one session makes at most (one per rate limit filter)


class PairedBucket:
    """TokenBucket's answers, each checked against the shared bucket's at the same moment."""

    def __init__(self, own: TokenBucket, shared: list) -> None:
        self.own, self.shared, self.takes = own, shared, 0

    @property
    def tokens(self) -> int:  # oracles.check_token_buckets reads the bucket that decides
        return self.own.tokens

    @property
    def max_tokens(self) -> int:
        return self.own.max_tokens

    def try_take(self) -> bool:
        took = self.own.try_take()
        worker = self.takes % len(self.shared)
        shared = self.shared[worker].try_take()
        self.takes += 1
        if shared != took:
            raise InvariantViolation(
                "shared_bucket_differs",
                f"take {self.takes} at {self.own.dispatcher.now_ms()} ms (max_tokens {self.own.max_tokens}, "
                f"{self.own.tokens_per_fill} per {self.own.fill_interval_ms} ms): the bucket of one instance "
                f"{'allowed' if took else 'refused'} it, the workers' shared bucket (worker {worker}) "
                f"{'allowed' if shared else 'refused'} it",
                judged="proxy.shared_buckets.SharedTokenBucket.try_take",
            )
        return took


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
