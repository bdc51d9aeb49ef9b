"""Local rate limit, network and HTTP: Envoy's token bucket on virtual time.

envoy/type/v3/token_bucket.proto, TokenBucket:
  max_tokens       "The maximum tokens that the bucket can hold. This is also the number of tokens
                   that the bucket initially contains."
  tokens_per_fill  "The number of tokens added to the bucket during each fill interval."
  fill_interval    "During each fill interval tokens_per_fill are added to the bucket. The bucket will
                   never contain more than max_tokens tokens."
Network local_ratelimit filter docs, Overview: "Each connection processed by the filter utilizes a
single token, and if no tokens are available, the connection will be immediately closed without
further filter iteration" (counter rate_limited). HTTP local_ratelimit filter docs: "if there are no
tokens available, a 429 response is returned".

Fills happen at start + k * fill_interval (k >= 1). Envoy creates the bucket with the filter's
configuration; ours creates it on first use, so start is the time of the first connection or
request that reaches the filter (docs/semantics.md). A fill due at time t happens before a request
at t (timers fire as virtual time reaches them, before the next event).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    max_tokens: int
    tokens_per_fill: int
    fill_interval_ms: int

    @classmethod
    def of(cls, config) -> "Bucket":
        """From our LocalRateLimit message."""
        return cls(config.max_tokens, config.tokens_per_fill, config.fill_interval_ms)


@dataclass
class State:
    """The model's running state: tokens, fills counted so far, and when the bucket started."""

    tokens: int
    fills: int = 0
    start_ms: int | None = None


def start(bucket: Bucket) -> State:
    return State(bucket.max_tokens)


def take(bucket: Bucket, state: State, now_ms: int) -> bool:
    """One connection / request at `now_ms`: True if it got a token (and the state keeps the rest)."""
    if state.start_ms is None:
        state.start_ms = now_ms
    due = (now_ms - state.start_ms) // bucket.fill_interval_ms
    if due > state.fills:
        state.tokens = min(bucket.max_tokens, state.tokens + (due - state.fills) * bucket.tokens_per_fill)
        state.fills = due
    if state.tokens >= 1:
        state.tokens -= 1
        return True
    return False


def decisions(bucket: Bucket, times_ms) -> list:
    """Allowed (True) or limited (False) for each arrival time, in order."""
    state = start(bucket)
    return [take(bucket, state, t) for t in times_ms]
