"""The config harness holds every chain an accepted configuration serves to the documented shape
(fuzz/targets/config_chains.py): exactly one terminal filter, the last. Each half of the rule,
planted away from validation, is caught on its committed seed; the clean tree refuses both seeds."""

from pathlib import Path

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import config, config_chains
from proxy.config import ConfigError, load_bytes, semantic

CORPUS = Path(__file__).resolve().parents[3] / "corpus" / "config"
NO_TERMINAL_LAST = CORPUS / "chain_ending_without_a_terminal_filter.yaml"
TERMINAL_EARLY = CORPUS / "chain_with_a_terminal_filter_before_the_last.yaml"


def _validation_forgetting(message_start: str, monkeypatch) -> None:
    """Plant: the chain check no longer reports violations that begin with `message_start`."""
    check = semantic._check_filters

    def forgetful(filters, path, clusters, out):
        found: list = []
        check(filters, path, clusters, found)
        out.extend(v for v in found if not v.message.startswith(message_start))

    monkeypatch.setattr(semantic, "_check_filters", forgetful)


@pytest.mark.parametrize("seed", [NO_TERMINAL_LAST, TERMINAL_EARLY], ids=lambda p: p.stem)
def test_the_clean_tree_refuses_both_shapes(seed):
    config.run(seed.read_bytes())  # refused by validation: nothing to judge, nothing raised


def test_a_chain_accepted_without_its_terminal_filter_is_caught(monkeypatch):
    _validation_forgetting("the last filter must be terminal", monkeypatch)
    with pytest.raises(InvariantViolation) as err:
        config.run(NO_TERMINAL_LAST.read_bytes())
    assert err.value.name == "config_chain_terminal_filter_not_last"


def test_a_chain_accepted_with_a_terminal_filter_before_the_last_is_caught(monkeypatch):
    _validation_forgetting("tcp_proxy is a terminal filter", monkeypatch)
    with pytest.raises(InvariantViolation) as err:
        config.run(TERMINAL_EARLY.read_bytes())
    assert err.value.name == "config_chain_terminal_filter_not_last"


OVERLAPPING = [CORPUS / "chains_sharing_a_server_name.yaml", CORPUS / "chains_sharing_a_source_range.yaml"]


def _clash_only_when_identical(monkeypatch) -> None:
    """Plant: two matches clash only when every criterion lists exactly the same values (validation
    and build both ask chain_match.clashes)."""
    from proxy import build
    from proxy.network import chain_match

    def identical(a, b):
        return all(x == y for x, y in zip(a.dimensions(), b.dimensions()))

    for module in (chain_match, semantic, build):
        monkeypatch.setattr(module, "clashes", identical)


@pytest.mark.parametrize("seed", OVERLAPPING, ids=lambda p: p.stem)
def test_the_clean_tree_refuses_chains_that_tie(seed):
    with pytest.raises(ConfigError) as err:
        load_bytes(seed.read_bytes()[1:], "yaml")
    assert [v.path for v in err.value.violations] == ["listeners[0].filter_chains[1].filter_chain_match"]
    config.run(seed.read_bytes())


@pytest.mark.parametrize("seed", OVERLAPPING, ids=lambda p: p.stem)
def test_chains_that_tie_accepted_are_caught(seed, monkeypatch):
    _clash_only_when_identical(monkeypatch)
    with pytest.raises(InvariantViolation) as err:
        config.run(seed.read_bytes())
    assert err.value.name == "config_chains_match_the_same_connection"


def test_chains_kept_apart_by_one_criterion_do_not_tie():
    from proxy.network.chain_match import FilterChainMatch

    a = FilterChainMatch(server_names=frozenset({"a.example"}), source_ports=frozenset({443}))
    b = FilterChainMatch(server_names=frozenset({"a.example"}))  # source port unset: a sets it, a wins
    c = FilterChainMatch(server_names=frozenset({"a.example", "b.example"}), source_ports=frozenset({443, 80}))
    assert config_chains.tie(a, b) is None
    assert config_chains.tie(a, c) is not None
    assert config_chains.tie(b, FilterChainMatch(server_names=frozenset({"c.example"}))) is None
