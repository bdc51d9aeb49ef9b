"""proxy/shared_buckets.py: the token buckets `--concurrency N` workers share take and refill as
TokenBucket does, and a token one process takes is gone for the others."""

import os
import random
import signal
import time

import pytest

from proxy.event import SimulatedDispatcher
from proxy.network.filters.local_ratelimit import TokenBucket
from proxy.shared_buckets import SharedBuckets


class _Config:
    """A filter's built configuration: the key, by identity."""


@pytest.mark.parametrize("seed", range(5))
def test_a_shared_bucket_decides_as_token_bucket_does(seed):
    rng = random.Random(seed)
    max_tokens, per_fill, interval = rng.randint(1, 5), rng.randint(1, 3), rng.choice([50, 100, 1000])
    d = SimulatedDispatcher()
    d.advance(rng.randint(0, 500))
    store = SharedBuckets(capacity=4, clock=lambda: d.now_ms() * 1_000_000)
    shared = store.bucket(_Config(), max_tokens, per_fill, interval)
    local = TokenBucket(d, max_tokens, per_fill, interval)  # made at its first take, as the filters do
    decisions = [(d.now_ms(), local.try_take(), shared.try_take())]
    for _ in range(300):
        for _ in range(rng.choice([0, 0, 1, 2, 6])):
            decisions.append((d.now_ms(), local.try_take(), shared.try_take()))
        d.advance(rng.choice([1, 17, interval - 1, interval, 3 * interval]))
    assert [(t, a) for t, a, _ in decisions] == [(t, b) for t, _, b in decisions]
    assert {a for _, a, _ in decisions} == {True, False}  # both answers were given


def test_each_key_has_its_own_bucket_and_a_full_store_says_so():
    store = SharedBuckets(capacity=2, clock=lambda: 0)
    a, b = _Config(), _Config()
    assert store.bucket(a, 1, 1, 50).try_take() and store.bucket(b, 1, 1, 50).try_take()
    assert not store.bucket(a, 1, 1, 50).try_take()  # another filter instance, the same bucket
    with pytest.raises(RuntimeError, match="more than 2 rate limit buckets"):
        store.bucket(_Config(), 1, 1, 50).try_take()


def test_a_token_taken_in_a_forked_process_is_gone_in_the_parent():
    store = SharedBuckets(capacity=1, clock=lambda: 0)
    key = _Config()
    pid = os.fork()
    if pid == 0:  # the child takes both tokens, as one worker would
        taken = store.bucket(key, 2, 1, 50).try_take() and store.bucket(key, 2, 1, 50).try_take()
        os._exit(0 if taken else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not store.bucket(key, 2, 1, 50).try_take()


def _run_in_child(body, timeout_s: float = 5.0):
    """body() in a forked child: its exit code, or None if it was still running after timeout_s."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = body()
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def test_a_worker_killed_while_it_holds_the_lock_does_not_stop_the_others():
    """A worker SIGKILLed (the OOM killer) inside a take: before, its semaphore stayed held and the
    next take in any other worker blocked that worker's event loop for good."""
    store = SharedBuckets(capacity=1, clock=lambda: 0)
    key = _Config()

    def die_holding_the_lock():
        store._slot = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # called with the lock held
        store.bucket(key, 2, 1, 50).try_take()
        return 0

    assert _run_in_child(die_holding_the_lock) == -signal.SIGKILL
    assert _run_in_child(lambda: 0 if store.bucket(key, 2, 1, 50).try_take() else 1) == 0
    assert store.bucket(key, 2, 1, 50).try_take() and not store.bucket(key, 2, 1, 50).try_take()
