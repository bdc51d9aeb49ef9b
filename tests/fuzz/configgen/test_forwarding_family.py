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
    assert family and family == list(range(len(names) - len(family), len(names)))
    # Every committed session seed names an entry before the family (byte 0), so none moved.
    heads = {p.read_bytes()[:1] for p in (REPO / "corpus" / "session").iterdir()}
    assert max(h[0] for h in heads if h) < family[0]


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
