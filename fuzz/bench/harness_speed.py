"""python -m fuzz bench harnesses [--time S] [--policy none|derived|both] [--harness NAME...]

1. Executions per second of every harness, replaying its seed corpus in process, cycled for S
   seconds each, in CPU time of the measuring process (the machine is shared: wall time measures
   the neighbours too). Each harness runs in a fresh process per policy, since counters are put on
   at import: `none` is the harness's own cost (oracles, splits, sessions), `derived` the cost while
   fuzzing with coverage counters (instrumentation.toml); `both` (the default) prints the two and
   their ratio, the counter overhead. Issue 14's goal: at least 1,000 exec/s with counters.
2. The HTTP/1.1 codec layer against bare h11 on the same inputs (corpus/h1_server), no counters:
   the proxy's server codec fed each input in one chunk, vs. a bare h11 server connection
   (fuzz/bench/harnesses/fuzz_bare_h11.py); the full h1_server harness (each input two ways
   plus a reference parser and a round trip) beside them.

A corpus replay weighs every seed by its own cost, so a few slow seeds (a regression seed trickled
a byte at a time, an HTTP/2 flood) can set a harness's figure while the fuzzer spends most of its
runs on ordinary inputs: each line also names the seed that costs the most of a replay cycle, with
its share, and the exec/s of the median seed (with the last policy measured).

RESULT lines: min_exec_s_with_counters (the slowest harness, with its name), h1_vs_bare_h11
(codec / bare h11, goal >= 0.5) and h1_server_harness_vs_bare_h11 (full harness / bare h11, goal >= 0.2).
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
POLICIES = {"none": ("none",), "derived": ("derived",), "both": ("none", "derived")}


def _rate(fn, inputs, budget_s: float) -> float:
    """Runs per CPU second of this process, cycling through inputs for at least budget_s. Each
    cycle starts with no verdict remembered (fuzz/memo.py): a verdict remembered from the previous
    cycle of the same inputs is a repeat fuzzing rarely makes, so only repeats within a cycle count."""
    from fuzz.memo import forget_verdicts

    runs, start = 0, time.process_time()
    while True:
        forget_verdicts()
        for data in inputs:
            try:
                fn(data)
            except Exception:  # noqa: BLE001 - a crash input in a corpus still costs its time
                pass
            runs += 1
        elapsed = time.process_time() - start
        if elapsed >= budget_s:
            return runs / elapsed


def seed_costs(fn, named_inputs) -> list[tuple[float, str]]:
    """(CPU seconds, name) of one run of each input, costliest first (no verdict remembered, as in _rate)."""
    from fuzz.memo import forget_verdicts

    forget_verdicts()
    costs = []
    for name, data in named_inputs:
        start = time.process_time()
        try:
            fn(data)
        except Exception:  # noqa: BLE001 - as in _rate
            pass
        costs.append((time.process_time() - start, name))
    return sorted(costs, reverse=True)


def spread(costs: list[tuple[float, str]]) -> tuple[float, str, float]:
    """(share of a cycle, name) of the costliest input and the exec/s of the median one."""
    total = sum(c for c, _ in costs) or 1e-9
    median = costs[len(costs) // 2][0] or 1e-9
    return costs[0][0] / total, costs[0][1], 1 / median


def harness_rate(name: str, policy: str, budget_s: float) -> tuple[int, float, tuple[float, str, float]]:
    """(seeds, exec/s, spread of the seeds' costs) of one harness under one policy, in this process
    (import it fresh)."""
    from fuzz.harness import Layout, discover
    from fuzz.replay import load_harness

    layout = Layout()
    spec = next(s for s in discover(layout) if s.name == name)
    named = [(p.name, p.read_bytes()) for p in spec.seed_files()] or [("empty", b"")]
    module = load_harness(spec.path, policy, layout.policy_file)
    seed_costs(module.TestOneInput, named)  # warm up: first-use imports and caches are not per-input costs
    inputs = [data for _, data in named]
    rate = _rate(module.TestOneInput, inputs, budget_s)
    return len(inputs), rate, spread(seed_costs(module.TestOneInput, named))


def _in_fresh_process(name: str, policy: str, budget_s: float) -> tuple[int, float, tuple[float, str, float]]:
    out = subprocess.run(
        [sys.executable, "-m", "fuzz.bench.harness_speed", name, policy, str(budget_s)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[-5]), float(out[-4]), (float(out[-3]), out[-2], float(out[-1]))


def main(argv) -> int:
    from fuzz.harness import Layout, corpus_files, discover
    from fuzz.replay import load_harness

    parser = argparse.ArgumentParser(prog="python -m fuzz bench harnesses", description=__doc__.splitlines()[0])
    parser.add_argument("--time", type=float, default=5.0, help="CPU seconds per measurement (default 5)")
    parser.add_argument("--policy", choices=sorted(POLICIES), default="both", help="counters: none, derived or both")
    parser.add_argument("--harness", nargs="+", metavar="NAME", help="only these harnesses")
    args = parser.parse_args(argv)
    layout = Layout()
    policies = POLICIES[args.policy]
    names = [s.name for s in discover(layout) if not args.harness or s.name in args.harness]

    print(f"{'harness':<16}{'seeds':>7}" + "".join(f"{p + ' exec/s':>16}" for p in policies), end="")
    print(f"{'overhead':>10}" if len(policies) == 2 else "", "  (CPU time, seed corpus replayed in process)")
    slowest: tuple[float, str] | None = None
    for name in names:
        rates = {}
        for policy in policies:
            seeds, rates[policy], (share, costliest, median) = _in_fresh_process(name, policy, args.time)
        line = f"{name:<16}{seeds:>7}" + "".join(f"{rates[p]:>16.0f}" for p in policies)
        if len(policies) == 2:
            line += f"{rates['none'] / rates['derived']:>9.1f}x"
        print(line + f"   median seed {median:.0f} exec/s; {costliest} {share:.0%} of a cycle", flush=True)
        if "derived" in rates and (slowest is None or rates["derived"] < slowest[0]):
            slowest = (rates["derived"], name)

    from fuzz.targets import h1

    inputs = [p.read_bytes() for p in corpus_files(layout.corpus / "h1_server")]
    bare = load_harness(REPO / "fuzz" / "bench" / "harnesses" / "fuzz_bare_h11.py", "none", layout.policy_file)
    bare_rate = _rate(bare.TestOneInput, inputs, args.time)
    codec_rate = _rate(lambda d: h1.run_server([d]), inputs, args.time)
    full = load_harness(REPO / "harnesses" / "fuzz_h1_server.py", "none", layout.policy_file)
    full_rate = _rate(full.TestOneInput, inputs, args.time)
    print(f"\nsame {len(inputs)} inputs (corpus/h1_server), no counters:")
    print(f"  bare h11 server connection   {bare_rate:>9.0f} exec/s")
    print(f"  proxy H1 server codec        {codec_rate:>9.0f} exec/s   ratio {codec_rate / bare_rate:.2f}")
    print(
        f"  full h1_server harness       {full_rate:>9.0f} exec/s   ratio {full_rate / bare_rate:.2f}"
        "  (2 feedings + reference + round trip)"
    )
    if slowest is not None:
        print(f"RESULT min_exec_s_with_counters {slowest[0]:.0f} {slowest[1]}")
    print(f"RESULT h1_vs_bare_h11 {codec_rate / bare_rate:.2f}")
    print(f"RESULT h1_server_harness_vs_bare_h11 {full_rate / bare_rate:.2f}")
    return 0


if __name__ == "__main__":  # one measurement, in a process of its own: NAME POLICY SECONDS
    seeds, rate, (share, costliest, median) = harness_rate(sys.argv[1], sys.argv[2], float(sys.argv[3]))
    print(seeds, f"{rate:.1f}", f"{share:.3f}", costliest, f"{median:.1f}")
