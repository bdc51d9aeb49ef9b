"""Sessions judge the workers' shared token buckets (fuzz/shared_buckets_paired.py): each take the
instance's TokenBucket decides is asked of one shared slot through two workers' handles too, on the
session's clock, and the answers must agree; a shared bucket that refills on every take is caught."""

from pathlib import Path

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.shared_buckets_paired import PairedBucket, factory
from fuzz.targets import network_filter as nf
from proxy import shared_buckets
from proxy.event import SimulatedDispatcher

SEEDS = Path(nf.__file__).resolve().parents[2] / "corpus" / "network_filter"


def test_the_pair_agrees_through_fills_and_both_workers():
    dispatcher = SimulatedDispatcher()
    bucket = factory(dispatcher)(object(), 2, 1, 100)
    assert isinstance(bucket, PairedBucket)
    taken = []
    for step in (0, 0, 0, 100, 0, 250, 0, 0, 1000):
        dispatcher.advance(step)
        taken.append(bucket.try_take())
    assert taken == [True, True, False, True, False, True, True, False, True]
    assert bucket.tokens == bucket.own.tokens and bucket.max_tokens == 2


def test_a_shared_bucket_that_does_not_record_its_fills_is_caught(monkeypatch):
    # The bug class (PLANT_L round 8, shared-bucket-refill-repeats): the fills due since the bucket was
    # made are added on every take, as none is recorded: no limit after the first interval.
    slot = shared_buckets._SLOT

    class FillsNotRecorded:
        size = slot.size
        pack_into = staticmethod(slot.pack_into)

        @staticmethod
        def unpack_from(buffer, offset):
            key, made_ms, tokens, _ = slot.unpack_from(buffer, offset)
            return key, made_ms, tokens, 0  # as if no fill had been recorded

    nf.run((SEEDS / "model-ratelimit-refill").read_bytes())
    monkeypatch.setattr(shared_buckets, "_SLOT", FillsNotRecorded)
    with pytest.raises(InvariantViolation) as err:
        nf.run((SEEDS / "model-ratelimit-refill").read_bytes())
    assert err.value.name == "shared_bucket_differs"
