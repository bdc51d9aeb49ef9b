"""The session pool's forwarding family (fuzz/configgen/forwarding.py): entries whose requests reach
an upstream, appended after every other entry so no committed seed changed configuration, and the
scenarios that move an input onto them."""

import random
from pathlib import Path

from fuzz import session
from fuzz.configgen import forwarding
from fuzz.mutators import actions

REPO = Path(__file__).resolve().parents[3]


def test_entries_are_deterministic_and_valid():
    assert forwarding.forwarding_tree(1, 3) == forwarding.forwarding_tree(1, 3)
    assert forwarding.forwarding_tree(1, 3) != forwarding.forwarding_tree(2, 3)
    for i in range(20):
        forwarding.forwarding_config(1, i)  # load_bytes validates (rules and semantics)


def test_the_family_comes_after_every_committed_seeds_entry():
    names = [Path(n).relative_to(REPO).as_posix() for n in session.ConfigPool.default().names]
    family = [i for i, n in enumerate(names) if n.startswith(session.FORWARDING_DIR + "/")]
    # After every other entry, before only the families that came after it (the TLS identities): the
    # pool before the family is a prefix of today's, so a seed written on it (byte 0 below its size,
    # as all were when the family came, b5a872d) kept its configuration.
    later = sum(session.family_of(n) not in (None, session.FORWARDING_DIR) for n in names)
    assert family and family == list(range(len(names) - later - len(family), len(names) - later))


def test_committed_entries_reach_an_upstream():
    from fuzz.pool_reach import probe
    from fuzz.test_pki import load_config
    from proxy.build import build

    for path in sorted((REPO / session.FORWARDING_DIR).glob("*.yaml"))[:4]:
        reach = probe(build(load_config(path)), n=16)
        assert reach.http >= reach.tried // 4 and not reach.findings, path


def test_scenarios_put_a_share_of_inputs_on_the_family():
    mutator = actions.session()
    family = set(mutator.codec._forwarding)
    on = 0
    for i in range(200):
        rng = random.Random(i)
        state = [b"\x00\x00", []]
        mutator.scenario(state, rng)
        on += state[0][0] in family
    assert 0.15 < on / 200 < 0.4  # scenarios.FORWARDED
    assert actions.network_filter().codec.forwarding_head(b"\x00" * 4, random.Random(0)) is None


def _catch_all(tree: dict) -> dict:
    hcm = tree["listeners"][0]["filter_chains"][0]["filters"][0]["http_connection_manager"]
    return hcm["route_config"]["virtual_hosts"][0]["routes"][-1]["route"]


def test_a_route_timeout_of_zero_read_as_the_default_is_caught_on_the_family(monkeypatch):
    """A planted defect (proto3's explicit zero read as unset): timeout_ms 0 gets the 15 s default.
    On a family entry whose catch-all route has timeout 0 (its HCM lets the exchange run), a request
    the upstream reads and leaves unanswered, with the client reading between time steps (as
    scenarios' waits do, READ_BETWEEN_STEPS), gets a 504 the timeouts model cannot explain."""
    import dataclasses

    import pytest
    import yaml

    from fuzz.oracles import InvariantViolation
    from proxy.build import build
    from proxy.config import load_bytes
    from proxy.http import route as route_module

    tree = next(t for i in range(100) if _catch_all(t := forwarding.forwarding_tree(1, i)).get("timeout_ms") == 0)
    text = yaml.safe_dump(tree).encode()
    A = session.Action
    script = [A("connect"), A("upstream_accept_next"), A("send", payload=b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")]
    script += [A("upstream_read")] + [A("advance", value=5_000), A("read")] * 4
    session.Session(build(load_bytes(text, "yaml")), models=True).run(script)  # the clean tree: no finding
    build_route = route_module._build_route

    def zero_as_unset(*args, **kwargs):
        built = build_route(*args, **kwargs)
        if built.clusters and built.timeout_ms == 0:
            return dataclasses.replace(built, timeout_ms=route_module.DEFAULT_ROUTE_TIMEOUT_MS)
        return built

    monkeypatch.setattr(route_module, "_build_route", zero_as_unset)
    with pytest.raises(InvariantViolation, match="model_gateway_timeout_unexplained"):
        session.Session(build(load_bytes(text, "yaml")), models=True).run(script)
