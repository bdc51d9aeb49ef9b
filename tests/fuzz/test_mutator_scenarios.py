"""Session scenarios (fuzz/mutators/scenarios.py through fuzz/mutators/actions.py): every op of the
session grammar plays a role, scenarios are deterministic for a seed and decode back exactly, their
steps come in an exchange's order, and from an empty input they reach a defect that only such an
order shows (a filter chain chosen by a server name compared case-sensitively)."""

import random
from dataclasses import replace

import pytest

from fuzz import session
from fuzz.mutators import actions, scenarios
from fuzz.oracles import InvariantViolation
from proxy.network import chain_match


def test_every_op_of_the_grammar_has_one_role():
    roles = [op for ops in scenarios.ROLES.values() for op in ops]
    assert len(roles) == len(set(roles))
    assert [op for op in session.OPS if scenarios.role_of(op) is None] == []


def _scenario(seed: int, mutator=None) -> list:
    mutator = mutator or actions.session()
    state = [b"\0\0", []]
    assert mutator.scenario(state, random.Random(seed))
    return state[1]


@pytest.mark.parametrize("seed", range(30))
def test_a_scenario_is_deterministic_and_decodes_back_exactly(seed):
    codec = actions.SessionCodec()
    made = _scenario(seed)
    assert made == _scenario(seed)
    assert codec.decode(codec.encode(made)) == made
    assert len(made) <= codec.max_actions


def test_scenario_steps_come_in_an_exchanges_order():
    """A request before the upstream's moves, a connect outcome before the upstream speaks; time
    passes somewhere in most scenarios."""
    timed = 0
    for seed in range(200):
        ops = [a.op for a in _scenario(seed)]
        first = {
            role: next((i for i, op in enumerate(ops) if scenarios.role_of(op) == role), None)
            for role in scenarios.ROLES
        }
        assert first["request"] is not None
        for later in ("connect_outcome", "upstream"):
            assert first[later] is None or first["request"] < first[later], ops
        timed += "advance" in ops
    assert timed > 150


def test_the_session_mutator_puts_scenarios_in_front_of_inputs():
    mutator = actions.session()
    mutator.bytes_share = 0.0
    codec = mutator.codec
    own = [session.Action("read", 0, value=5)]
    data = codec.join(b"\x03\x01", own)
    kept = 0
    for i in range(300):
        before = mutator.counts["bytes"]
        out = mutator.mutate(data, 8192, i)
        if mutator.counts["bytes"] > before:
            continue  # nothing structured applied: libFuzzer's bytes
        head, acts = codec.split(out)
        assert codec.join(head, acts) == out
        kept += len(acts) > 1 and acts[-1] == own[0] and scenarios.role_of(acts[0].op) is not None
    assert mutator.counts["actions.scenario"] > 20 and kept > 10


def test_a_server_name_matched_case_sensitively_is_found_from_scenarios(monkeypatch):
    """A planted defect: the chain match compares the SNI as the client sent it (RFC 6066 3 makes it a
    DNS name, case-insensitive). Scenarios of an empty input open clients with server names in
    either case; the chain model finds the wrong chain. (On the schema-drawn entries: the forwarding
    family, which scenarios also move inputs to, has one chain and no server names.)"""
    pool = session.ConfigPool.default()
    monkeypatch.setattr(scenarios, "FORWARDED", 0.0)
    drawn = sum(not session.pool_order(name)[0] for name in pool.names)
    facts_of = chain_match.facts_of
    monkeypatch.setattr(
        chain_match, "facts_of", lambda conn: replace(facts_of(conn), server_name=conn.server_name or "")
    )
    mutator, found = actions.session(), set()
    for i in range(1500):
        rng = random.Random(i)
        state = [bytes([rng.randrange(256) % drawn, rng.randrange(4)]), []]
        mutator.scenario(state, rng)
        try:
            session.run_input(pool, mutator.codec.join(*state))
        except InvariantViolation as exc:
            found.add(exc.name)
            break
    assert found == {"listener_filter_chain_match"}


def test_scenario_templates_get_seeds_long_enough_for_bodies_and_shapes():
    """8 operand bytes left a template's seed at most 4 bytes: no body, framing, route field, hostile
    shape or streaming upload (bytes 3-7 of fuzz/payloads.py's requests) in a scenario's request."""
    lengths = [len(a.payload) for seed in range(100) for a in _scenario(seed) if a.op in ("send_http", "upstream_http")]
    assert max(lengths) > 32 and sum(n > 8 for n in lengths) > len(lengths) // 4


def test_a_scenario_client_reads_before_time_passes_most_of_the_time():
    """A client that reads as bytes arrive sees its response before a delayed close or an idle timeout
    drops it unread; a scenario's waits after its request are mostly preceded by a read of that client."""
    before, waits = 0, 0
    for seed in range(100):
        made = _scenario(seed)
        for i, a in enumerate(made):
            if a.op == "advance" and i and made[i - 1].op != "advance" and scenarios.role_of(made[i - 1].op) != "open":
                waits += 1
                before += made[i - 1].op == "read"
    assert before > waits // 2


def test_a_client_sometimes_sends_more_once_its_upstream_is_connected():
    """A streaming upload's next pieces go out after the upstream connected (bytes that arrive before
    are sent in one piece): in some scenarios a request step follows a connect, with only time and
    reads between (7 of 200 with the grammar before, by a next exchange's request)."""
    follows = 0
    for seed in range(200):
        ops = [a.op for a in _scenario(seed)]
        for i, op in enumerate(ops):
            rest = [o for o in ops[i + 1 :] if o not in ("advance", "read")] if op == "upstream_connect" else []
            if rest and scenarios.role_of(rest[0]) == "request":
                follows += 1
                break
    assert follows > 25


def test_a_scenario_client_also_reads_between_the_steps_of_a_wait():
    """A 504 sent at a deadline inside a long wait is read before a later idle or delayed-close timeout
    of the same wait drops it unread (what the timeouts model judges is what the client saw)."""
    between = 0
    for seed in range(100):
        made = _scenario(seed)
        between += sum(
            1
            for i in range(2, len(made))
            if made[i - 2].op == "advance" and made[i - 1].op == "read" and made[i].op == "advance"
        )
    assert between > 80  # 37 in these 100 with reads before the first step only, 135 with them
