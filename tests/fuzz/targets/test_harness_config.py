"""The config harness's dump oracle: a built configuration's /config_dump shows no private key
(Envoy redacts its sensitive fields). Found black-box: GET /config_dump on the admin of python -m
proxy returned the inline PEM private key of a TLS listener."""

import json

import pytest

from fuzz import test_pki
from fuzz.harness import REPO_ROOT
from fuzz.oracles import InvariantViolation
from fuzz.targets import config

SEED = REPO_ROOT / "corpus" / "config" / "tls_private_keys.yaml"


def _inline_key_config() -> bytes:
    pki = test_pki.ensure()
    text = SEED.read_bytes()[1:].decode()
    for name in ("server", "client"):
        pem = (pki / f"{name}.key").read_text()
        text = text.replace(
            f"private_key: {{filename: /tmp/proxyfuzz-pki/{name}.key}}",
            f"private_key: {{inline_string: {json.dumps(pem)}}}",
        )
    assert "inline_string" in text
    return b"\x01" + text.encode()


@pytest.mark.parametrize("data", [SEED.read_bytes(), _inline_key_config()], ids=["files", "inline"])
def test_tls_configurations_dump_without_their_keys(data):
    test_pki.ensure()
    config.run(data)


@pytest.mark.parametrize("data", [SEED.read_bytes(), _inline_key_config()], ids=["files", "inline"])
def test_a_dump_that_shows_private_keys_is_caught(monkeypatch, data):
    import proxy.admin

    monkeypatch.setattr(proxy.admin, "redact", lambda message, sensitive=False: None)  # the old dump
    with pytest.raises(InvariantViolation, match="config_dump_leaks_secret"):
        config.run(data)
