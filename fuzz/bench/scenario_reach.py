"""How far random session scenarios get towards an upstream.

    python -m fuzz bench scenario-reach [--scenarios N] [--seed S]

Each of N scenarios is what the session mutator writes for an empty input (fuzz/mutators/
scenarios.py through fuzz/mutators/actions.py, a random configuration byte and read size), run as
the harness runs it (models on). Prints the histogram of fuzz.session_reach outcomes (the furthest
each session got) with the commonest reasons within each, how many exchanges and how many reached an
upstream, and how many sessions raised a finding (counted by outcome too: the session ran until it).
Last line: RESULT scenario_reach_answered_share <share of scenarios whose client got an upstream's
answer>.
"""

import argparse
import random
from collections import Counter


def measure(n: int, seed: int = 0):
    """(outcome Counter, (outcome, why) Counter, exchanges, exchanges reaching an upstream, findings)."""
    from fuzz import session as S
    from fuzz.mutators import actions
    from fuzz.oracles import InvariantViolation
    from fuzz.session_reach import reach_of

    pool = S.ConfigPool.default()
    mutator = actions.session()
    codec = mutator.codec
    outcomes: Counter = Counter()
    reasons: Counter = Counter()
    exchanges = reached = findings = 0
    for i in range(n):
        rng = random.Random(seed * 1_000_003 + i)
        head = bytes([rng.randrange(256), rng.randrange(len(S.READ_SIZES))])
        state: list = [head, []]
        mutator.scenario(state, rng)
        index, read_size, acts = S.decode_input(pool, codec.join(head, state[1]))
        built = pool.built[index]
        session = S.Session(built, read_size=read_size, models=True, sources=S.edge_sources(built, S.SOURCES))
        try:
            session.run(acts)
        except InvariantViolation:
            findings += 1
        outcome, why = reach_of(session)
        outcomes[outcome] += 1
        reasons[(outcome, why)] += 1
        exchanges += len(session.peers.exchanges)
        reached += sum(1 for ex in session.peers.exchanges if ex.upstreams)
    return outcomes, reasons, exchanges, reached, findings


def main(argv=None) -> int:
    from fuzz.session_reach import OUTCOMES, REACHED

    parser = argparse.ArgumentParser(prog="python -m fuzz bench scenario-reach", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", type=int, default=300, help="scenarios to run (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    outcomes, reasons, exchanges, reached, findings = measure(args.scenarios, args.seed)
    n = args.scenarios
    for outcome in OUTCOMES:
        why = ", ".join(f"{w or '-'} {c}" for (o, w), c in reasons.most_common() if o == outcome and w)
        print(f"{outcome:15} {outcomes[outcome]:4}  {why[:100]}")
    accepted = sum(outcomes[o] for o in REACHED)
    print(f"{accepted} of {n} scenarios: an upstream accepted a connection; {outcomes['answered']} got its answer back")
    print(f"exchanges {exchanges}, {reached} reached an upstream; findings {findings}")
    print(f"RESULT scenario_reach_answered_share {outcomes['answered'] / n if n else 0:.3f}")
    return 0
