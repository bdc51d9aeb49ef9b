"""python -m fuzz bench harnesses [--time S]

1. Executions per second of every harness, replaying its seed corpus in process with no
   coverage counters (the harness's own cost: oracles, splits, sessions), cycled for S
   seconds each.
2. The HTTP/1.1 codec layer against bare h11 on the same inputs (corpus/h1_server) in the
   same run: the proxy's server codec fed each input in one chunk, vs. a bare h11 server
   connection (fuzz/bench/harnesses/fuzz_bare_h11.py). The full h1_server harness, which runs
   each input three ways plus a reference parser and a round trip, is printed beside them.

Last line: RESULT h1_vs_bare_h11 <codec exec/s / bare h11 exec/s> (goal >= 0.5).
"""

import argparse
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def _rate(fn, inputs, budget_s: float) -> float:
    runs, start = 0, time.perf_counter()
    while True:
        for data in inputs:
            try:
                fn(data)
            except Exception:  # noqa: BLE001 - a crash input in a corpus still costs its time
                pass
            runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= budget_s:
            return runs / elapsed


def main(argv) -> int:
    from fuzz.harness import Layout, corpus_files, discover
    from fuzz.replay import load_harness

    parser = argparse.ArgumentParser(prog="python -m fuzz bench harnesses", description=__doc__.splitlines()[0])
    parser.add_argument("--time", type=float, default=5.0, help="seconds per measurement (default 5)")
    args = parser.parse_args(argv)
    layout = Layout()

    print(f"{'harness':<16}{'seeds':>7}{'exec/s':>10}   (in-process replay of the seed corpus, no counters)")
    for spec in discover(layout):
        inputs = [p.read_bytes() for p in spec.seed_files()] or [b""]
        module = load_harness(spec.path, "none", layout.policy_file)
        print(f"{spec.name:<16}{len(inputs):>7}{_rate(module.TestOneInput, inputs, args.time):>10.0f}")

    from fuzz.targets import h1

    inputs = [p.read_bytes() for p in corpus_files(layout.corpus / "h1_server")]
    bare = load_harness(REPO / "fuzz" / "bench" / "harnesses" / "fuzz_bare_h11.py", "none", layout.policy_file)
    bare_rate = _rate(bare.TestOneInput, inputs, args.time)
    codec_rate = _rate(lambda d: h1.run_server([d]), inputs, args.time)
    full = load_harness(REPO / "harnesses" / "fuzz_h1_server.py", "none", layout.policy_file)
    full_rate = _rate(full.TestOneInput, inputs, args.time)
    print(f"\nsame {len(inputs)} inputs (corpus/h1_server):")
    print(f"  bare h11 server connection   {bare_rate:>9.0f} exec/s")
    print(f"  proxy H1 server codec        {codec_rate:>9.0f} exec/s   ratio {codec_rate / bare_rate:.2f}")
    print(
        f"  full h1_server harness       {full_rate:>9.0f} exec/s   ratio {full_rate / bare_rate:.2f}"
        "  (3 feedings + reference + round trip)"
    )
    print(f"RESULT h1_vs_bare_h11 {codec_rate / bare_rate:.2f}")
    return 0
