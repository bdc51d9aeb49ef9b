"""tcp_proxy weighted clusters against their model (fuzz/models/weighted.py), in the network_filter
harness: the committed seed's eight connections split 3 : 1 by scripted draws. A choice whose draw
spans the number of clusters instead of their total weight (planted) is caught; the clean tree passes."""

from pathlib import Path

import pytest

from fuzz.models.weighted import pick
from fuzz.oracles import InvariantViolation
from fuzz.targets import network_filter
from proxy.network.filters import tcp_proxy

SEED = Path(__file__).resolve().parents[3] / "corpus" / "network_filter" / "model-tcp-proxy-weighted-clusters"


def test_the_draw_picks_the_cluster_whose_interval_holds_it():
    entries = [("a", 3), ("off", 0), ("b", 1)]
    assert [pick(entries, u) for u in (0.0, 0.74, 0.75, 0.99)] == ["a", "a", "b", "b"]


def test_the_committed_seed_is_the_model_seed_and_passes_clean():
    assert SEED.read_bytes() == network_filter.model_seeds()["tcp-proxy-weighted-clusters"]
    network_filter.run(SEED.read_bytes())


@pytest.mark.parametrize("total", [lambda clusters: len(clusters), lambda clusters: clusters[0][1]])
def test_a_draw_over_the_wrong_total_is_caught(total, monkeypatch):
    original = tcp_proxy.pick_weighted

    def skewed(clusters, total_weight, rng):
        return original(clusters, total(clusters), rng)

    monkeypatch.setattr(tcp_proxy, "pick_weighted", skewed)
    with pytest.raises(InvariantViolation) as err:
        network_filter.run(SEED.read_bytes())
    assert err.value.name == "model_tcp_proxy_weighted_cluster"
