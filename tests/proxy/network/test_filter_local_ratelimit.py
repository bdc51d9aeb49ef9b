"""local_ratelimit: one token per connection from a bucket shared by the filter chain."""

import pytest

from proxy.event import SimulatedDispatcher
from proxy.network.connection import State
from proxy.network.filters.local_ratelimit import TokenBucket

from tests.fuzz.test_build_harness import L4, tcp_config


def limited(max_tokens=2, tokens_per_fill=1, fill_interval_ms=100):
    return tcp_config(
        {
            "local_ratelimit": {
                "max_tokens": max_tokens,
                "tokens_per_fill": tokens_per_fill,
                "fill_interval_ms": fill_interval_ms,
            }
        }
    )


def test_connections_take_tokens_until_the_bucket_is_empty_then_are_closed():
    p = L4(limited(max_tokens=2))
    a, _ = p.accept()
    b, _ = p.accept()
    c, client = p.accept()
    assert a.is_open and b.is_open
    assert c.state is State.CLOSED and client.received == b""
    assert len(p.net.opened) == 2  # the refused one never reached tcp_proxy
    assert p.counter("local_ratelimit.rate_limited") == 1
    assert p.counter("local_ratelimit.allowed") == 2


def test_the_bucket_refills_every_fill_interval_on_virtual_time():
    p = L4(limited(max_tokens=2, tokens_per_fill=1, fill_interval_ms=100))
    p.accept(), p.accept()
    p.advance(99)
    assert p.accept()[0].state is State.CLOSED
    p.advance(1)  # t=100: one token back
    assert p.accept()[0].is_open
    assert p.accept()[0].state is State.CLOSED


def test_the_bucket_is_shared_by_the_chain_and_separate_per_instance():
    p = L4(limited(max_tokens=1))
    other = L4(None, built=p.built)  # same built config, another instance
    assert p.accept()[0].is_open
    assert p.accept()[0].state is State.CLOSED  # shared by the chain's connections
    assert other.accept()[0].is_open  # not by another instance


def test_tokens_never_exceed_max_and_never_go_negative():
    d = SimulatedDispatcher()
    bucket = TokenBucket(d, max_tokens=3, tokens_per_fill=2, fill_interval_ms=50)
    history, refused = [], 0
    for step in range(60):
        for _ in range((0, 4, 1, 2, 0, 0)[step % 6]):  # bursts larger than the bucket, and pauses
            refused += not bucket.try_take()
        history.append(bucket.tokens)
        d.advance(17)
        history.append(bucket.tokens)
    assert min(history) == 0 and max(history) == 3  # both bounds reached, never crossed
    assert refused > 0


def test_refills_keep_the_fixed_period_from_the_bucket_creation():
    d = SimulatedDispatcher()
    bucket = TokenBucket(d, max_tokens=1, tokens_per_fill=1, fill_interval_ms=100)
    d.advance(130)
    assert bucket.try_take()  # taken at t=130
    d.advance(69)
    assert bucket.tokens == 0  # t=199
    d.advance(1)
    assert bucket.tokens == 1  # t=200, not t=230


def test_a_full_bucket_arms_no_timer():
    d = SimulatedDispatcher()
    bucket = TokenBucket(d, max_tokens=2, tokens_per_fill=5, fill_interval_ms=100)
    assert d.next_deadline() is None
    bucket.try_take()
    assert d.next_deadline() == 100
    d.advance(100)
    assert bucket.tokens == 2 and d.next_deadline() is None


def test_bad_bucket_parameters_are_refused():
    with pytest.raises(ValueError):
        TokenBucket(SimulatedDispatcher(), max_tokens=0, tokens_per_fill=1, fill_interval_ms=50)
