"""Sessions offer each server name the configuration matches on also in capitals (a DNS name is
case-insensitive: RFC 6066 section 3, RFC 4343), so the filter-chain model catches a proxy that
compares the SNI case-sensitively (planted by monkeypatch)."""

import dataclasses

import pytest

from fuzz import oracles, session
from fuzz.models import session_oracle
from fuzz.session import Action
from proxy.network import chain_match

CONFIG = """
listeners:
- name: tls
  address: {host: 127.0.0.1, port: 10000}
  listener_filters: [{tls_inspector: {}}]
  filter_chains:
  - filter_chain_match: {server_names: [api.example.com]}
    filters: [{tcp_proxy: {cluster: api}}]
  - filters: [{tcp_proxy: {cluster: web}}]
clusters:
- {name: api, endpoints: [{host: 10.0.0.9, port: 443}]}
- {name: web, endpoints: [{host: 10.0.0.8, port: 443}]}
"""


@pytest.fixture
def pool(tmp_path, monkeypatch):
    monkeypatch.setattr(session_oracle, "_CHAINS_CHECKED", {})  # verdicts are cached per process
    path = tmp_path / "sni.yaml"
    path.write_text(CONFIG)
    return session.ConfigPool([path])


def test_every_server_name_is_offered_in_both_cases(pool):
    built = pool.built[0]
    names = [session.connect_address(built, 0, variant)[3] for variant in range(3)]
    assert names == ["", "api.example.com", "API.EXAMPLE.COM"]


# connect_tls: variant 2 (the capitalised name), mode 0x21: a TLS client sending the name as SNI
CAPITALISED_SNI = [Action("connect_tls", 2, 0, payload=bytes([0x21]))]


def test_the_clean_proxy_picks_the_named_chain_for_the_capitalised_sni(pool):
    s = session.run_input(pool, session.encode_actions(CAPITALISED_SNI))
    assert ("10.0.0.9", 443) in [c.remote_address for c in s.network.opened]


def test_a_case_sensitive_server_name_match_is_caught(monkeypatch, pool):
    original = chain_match.facts_of

    def case_kept(conn):  # the planted bug: the SNI compared as the client wrote it
        return dataclasses.replace(original(conn), server_name=conn.server_name or "")

    monkeypatch.setattr(chain_match, "facts_of", case_kept)
    with pytest.raises(oracles.InvariantViolation, match="listener_filter_chain_match"):
        session.run_input(pool, session.encode_actions(CAPITALISED_SNI))
