"""The config harness holds every chain an accepted configuration serves to the documented shape
(fuzz/targets/config_chains.py): exactly one terminal filter, the last. Each half of the rule,
planted away from validation, is caught on its committed seed; the clean tree refuses both seeds."""

from pathlib import Path

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import config
from proxy.config import semantic

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
