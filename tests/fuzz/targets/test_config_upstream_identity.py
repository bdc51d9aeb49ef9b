"""The config harness shakes hands, through the proxy's upstream TLS transport socket, with the test
upstream for every TLS cluster with a validation_context, and holds the outcome to the identity model
(fuzz/targets/config_upstream_identity.py): planted matching faults fail the wildcard-edge seed."""

from pathlib import Path

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import config
from proxy.tls import info, transport

SEED = Path(__file__).resolve().parents[3] / "corpus" / "config" / "upstream_names_at_wildcard_edges.yaml"


def _fails() -> str:
    with pytest.raises(InvariantViolation) as err:
        config.run(SEED.read_bytes())
    return err.value.name


def test_names_at_the_wildcard_edges_get_the_models_verdict():
    config.run(SEED.read_bytes())


def test_a_wildcard_matched_by_suffix_is_caught(monkeypatch):
    """*.example.com standing for any number of labels accepts deep.api.example.com."""
    monkeypatch.setattr(info, "dns_name_matches", lambda name, san: name.lower().endswith(san.lower().lstrip("*")))
    assert _fails() == "config_upstream_identity_not_checked"


def test_names_compared_with_their_case_are_caught(monkeypatch):
    monkeypatch.setattr(info, "dns_name_matches", lambda name, san: name == san or name.split(".", 1)[1:] == [san[2:]])
    assert _fails() == "config_upstream_identity_wrongly_refused"


def test_an_upstream_whose_names_are_not_checked_is_caught(monkeypatch):
    monkeypatch.setattr(transport, "peer_matches", lambda names, peer: True)
    assert _fails() == "config_upstream_identity_not_checked"
