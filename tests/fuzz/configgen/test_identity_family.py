"""The session pool's TLS identity family (fuzz/configgen/identities.py): entries where TLS clients
presenting the test PKI's certificates meet chains, RBAC principals and clusters that judge
identities, appended after the forwarding family so no committed seed changed configuration, and the
scenarios that move an input onto them with TLS clients of their own. From an empty input, those
scenarios find proxies planted with the identity defects the pool could not reach before (a SAN
check falling back to the CN, a wildcard spanning labels, a version cap ignored, a suffix matcher
comparing the prefix); the clean tree passes the same scenarios."""

import random
from pathlib import Path

import pytest

from fuzz import session
from fuzz.configgen import identities
from fuzz.mutators import actions, scenarios
from fuzz.oracles import InvariantViolation
from fuzz.tls_session import CERTIFICATES
from tests.fuzz.test_tls_version_bounds import plant_cap_ignored

REPO = Path(__file__).resolve().parents[3]


def test_entries_are_deterministic_and_valid():
    assert identities.identity_tree(1, 3) == identities.identity_tree(1, 3)
    assert identities.identity_tree(1, 3) != identities.identity_tree(2, 3)
    for i in range(24):
        identities.identity_config(1, i)  # load_bytes validates (rules and semantics)


def test_names_come_from_the_test_pki():
    clients = identities.client_names()
    assert "client" in clients  # client.pem's subject CN, which no SAN list may match
    assert "client.proxyfuzz.test" in clients and "spiffe://proxyfuzz.test/client" in clients
    pins = identities.server_pins()
    assert {"api.example.com", "deep.api.example.com", "api.test", "deep.api.test", "localhost"} <= set(pins)


def _drawn(path: list) -> list:
    """Every value at `path` (keys, "*" for each item of a list) in the first 200 entries."""
    out = []
    for i in range(200):
        level = [identities.identity_tree(1, i)]
        for key in path:
            nested: list = []
            for value in level:
                if key == "*" and isinstance(value, list):
                    nested += value
                elif isinstance(value, dict) and key in value:
                    nested.append(value[key])
            level = nested
        out += level
    return out


def test_the_family_draws_what_identity_defects_need():
    chain_tls = _drawn(["listeners", "*", "filter_chains", "*", "tls_context"])
    listed = {
        n
        for t in chain_tls
        for n in t["common_tls_context"].get("validation_context", {}).get("match_subject_alt_names", [])
    }
    assert "client" in listed and any(t.get("require_client_certificate") for t in chain_tls)
    caps = [t["common_tls_context"].get("tls_params", {}).get("tls_maximum_protocol_version") for t in chain_tls]
    assert "TLSv1_2" in caps
    pinned = _drawn(
        ["clusters", "*", "tls_context", "common_tls_context", "validation_context", "match_subject_alt_names", "*"]
    )
    assert "deep.api.example.com" in pinned or "deep.api.test" in pinned
    matchers = _drawn(
        [
            "listeners",
            "*",
            "filter_chains",
            "*",
            "filters",
            "*",
            "http_connection_manager",
            "http_filters",
            "*",
            "rbac",
            "policies",
            "*",
            "principals",
            "*",
            "authenticated",
            "principal_name",
        ]
    )
    assert {"exact", "prefix", "suffix", "contains"} <= {k for m in matchers for k in m if k != "ignore_case"}
    for tls in chain_tls:  # no chain match a loopback client never meets
        assert "filter_chain_match" not in tls


def test_the_family_comes_last_after_the_forwarding_family():
    names = [Path(n).relative_to(REPO).as_posix() for n in session.ConfigPool.default().names]
    forwarding = [i for i, n in enumerate(names) if n.startswith(session.FORWARDING_DIR + "/")]
    family = [i for i, n in enumerate(names) if n.startswith(session.IDENTITIES_DIR + "/")]
    assert family == list(range(len(names) - len(family), len(names))) and len(names) <= 256
    assert forwarding == list(range(family[0] - len(forwarding), family[0]))


def test_scenarios_put_a_share_of_inputs_on_the_family_with_tls_clients():
    mutator = actions.session()
    family = set(mutator.codec._families[session.IDENTITIES_DIR])
    on, clients = 0, []
    for i in range(400):
        state = [b"\x00\x00", []]
        mutator.scenario(state, random.Random(i))
        if state[0][0] in family:
            on += 1
            clients += [a for a in state[1] if a.op == "connect_tls" and a.payload[0] & 1]
    assert 0.03 < on / 400 < 0.15  # scenarios.IDENTIFIED
    assert clients and {CERTIFICATES[(a.payload[0] >> 3) & 3] for a in clients} == set(CERTIFICATES)
    assert actions.network_filter().codec.identity_head(b"\x00" * 4, random.Random(0)) is None


def test_scenarios_off_the_family_draw_as_before(monkeypatch):
    mutator = actions.session()
    family = set(mutator.codec._families[session.IDENTITIES_DIR])

    def drawn(seed):
        state = [b"\x00\x00", []]
        mutator.scenario(state, random.Random(seed))
        return state

    now = {seed: drawn(seed) for seed in range(100)}
    monkeypatch.setattr(scenarios, "IDENTIFIED", 0.0)
    for seed, state in now.items():
        if state[0][0] not in family:
            assert drawn(seed) == state, seed


def _identity_findings(n: int) -> list[str]:
    """n scenarios of an empty input on the family, as Actions.scenario makes them there, run as the
    harness runs them (the pool built now, after any plant): the findings' names."""
    paths = session.pool_paths(REPO)
    pool = session.ConfigPool([str(p) for p in paths if session.family_of(p) == session.IDENTITIES_DIR])
    mutator = actions.session()
    found = []
    for seed in range(n):
        rng = random.Random(seed)
        made = scenarios.scenario(rng, mutator._scenario_action, mutator._aimed, opener=mutator.codec.tls_client)
        data = mutator.codec.join(bytes([rng.randrange(len(pool.built)), 0]), made)
        try:
            session.run_input(pool, data)
        except InvariantViolation as e:
            found.append(e.name)
    return found


N = 200


def _plant_cn_fallback(monkeypatch):
    """match_subject_alt_names also accepts the subject's CN."""
    from proxy.tls import transport

    original = transport.peer_matches

    def cn_too(names, peer):
        return original(names, peer) or (peer is not None and any(f"CN={n}" in peer.subject.split(",") for n in names))

    monkeypatch.setattr(transport, "peer_matches", cn_too)


def _plant_wildcard_spans_labels(monkeypatch):
    """A wildcard SAN matches any number of leftmost labels."""
    from proxy.tls import info

    def by_suffix(name, san):
        name, san = name.lower(), san.lower()
        return name == san or (san.startswith("*.") and name.endswith(san[1:]) and len(name) > len(san) - 1)

    monkeypatch.setattr(info, "dns_name_matches", by_suffix)


def _plant_suffix_as_prefix(monkeypatch):
    from proxy.network import principal

    original = principal.StringMatcher.__call__

    def suffix_as_prefix(self, text):
        if self.kind == "suffix":
            value = self.value.lower() if self.ignore_case else self.value
            return (text.lower() if self.ignore_case else text).startswith(value)
        return original(self, text)

    monkeypatch.setattr(principal.StringMatcher, "__call__", suffix_as_prefix)


@pytest.mark.slow
def test_the_clean_tree_passes_the_family_scenarios():
    assert _identity_findings(N) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("plant", "oracles"),
    [
        (_plant_cn_fallback, {"tls_downstream_client_auth_not_enforced"}),
        (_plant_wildcard_spans_labels, {"tls_upstream_identity_not_checked"}),
        (plant_cap_ignored, {"tls_version_outside_bounds"}),
        (_plant_suffix_as_prefix, {"model_route_session", "model_rbac_network", "model_rbac"}),
    ],
)
def test_identity_defects_are_found_from_the_family_scenarios(monkeypatch, plant, oracles):
    plant(monkeypatch)
    found = _identity_findings(N if plant is not _plant_suffix_as_prefix else 3 * N)
    assert found and set(found) <= oracles | {"tls_client_refusal_miscounted"}, found
