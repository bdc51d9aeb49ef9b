"""python -m fuzz bench mutators NAME [--time S] [--trials N] [--seed BASE]

Coverage from nothing, structure-aware mutator against libFuzzer's byte mutator alone. Harness
NAME fuzzes from an empty corpus (its dictionary and .options kept: they are part of the harness)
for S seconds with its custom mutator (fuzz/mutators/, PROXYFUZZ_MUTATOR=custom) and for S seconds
with the byte mutator alone (PROXYFUZZ_MUTATOR=bytes); N trials each, trial k with -seed=BASE+k for
both, runs one at a time and alternating. A run that crashes resumes from its own corpus for the
time left (the crash is counted), so finding a bug does not cut a curve short.

Reported per run: libFuzzer's ft (features: what it keeps inputs for) and cov at the end, and
executions; then the median ft per mutator and their ratio. Both mutators' ft curves go on one
chart, reports/mutators/NAME.png (the samples in NAME.csv).
Last line: RESULT mutator_coverage_ratio_NAME <median ft custom / median ft bytes>.
"""

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

from fuzz import charts, runner
from fuzz.campaign import Samples
from fuzz.harness import HarnessError, HarnessSpec, Layout, add_layout_arguments, find, layout_from_args
from fuzz.mutators import MUTATORS

MODES = (("custom", "custom mutator"), ("bytes", "byte mutator alone"))
MAX_RESTARTS = 20


def fuzz_once(spec: HarnessSpec, layout: Layout, tmp: Path, mode: str, seed: int, time_s: int) -> dict:
    """One run from an empty corpus; restarts from its own corpus after a crash until time is up."""
    empty = tmp / "empty"
    empty.mkdir(exist_ok=True)
    bare = HarnessSpec(spec.name, spec.path, spec.target, empty, spec.dictionary, spec.options_path)
    work = Layout(
        root=layout.root,
        harnesses=layout.harnesses,
        corpus=layout.corpus,
        work=tmp / f"{mode}-{seed}",
        reports=tmp / "reports",
        policy_file=layout.policy_file,
    )
    rows, crashes, spent, executions, restart = [], 0, 0.0, 0, 0
    while time_s - spent >= 2 and restart <= MAX_RESTARTS:
        samples = Samples(every=0.5)
        result = runner.run(
            bare,
            work,
            time_s=int(time_s - spent),
            extra=[f"-seed={seed + 1000 * restart}"],
            on_line=samples,
            mutator=mode,
        )
        rows += [{**r, "seconds": round(r["seconds"] + spent, 2)} for r in samples.rows]
        spent += result.elapsed
        executions += result.progress.executions
        if not result.artifacts:
            if not samples.rows:
                raise HarnessError(f"{spec.name} ({mode}) printed no status line; see {result.log}")
            break
        crashes += len(result.artifacts)
        restart += 1
    final = rows[-1] if rows else {"ft": 0, "cov": 0}
    return {
        "mode": mode,
        "seed": seed,
        "ft": final["ft"],
        "cov": final["cov"],
        "executions": executions,
        "seconds": spent,
        "crashes": crashes,
        "rows": rows,
    }


def write_outputs(name: str, runs: list[dict], out: Path, time_s: int) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{name}.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["mode", "seed", "seconds", "executions", "exec_per_sec", "cov", "ft"])
        for run in runs:
            for r in run["rows"]:
                writer.writerow(
                    [run["mode"], run["seed"], r["seconds"], r["executions"], r["exec_per_sec"], r["cov"], r["ft"]]
                )
    labels = dict(MODES)
    series = [
        (
            labels[run["mode"]],
            [r["seconds"] for r in run["rows"]],
            [r["ft"] for r in run["rows"]],
            [m for m, _ in MODES].index(run["mode"]),
        )
        for run in runs
        if run["rows"]
    ]
    return charts.curves(
        out / f"{name}.png",
        f"{name}: coverage from an empty corpus ({time_s} s per run)",
        "seconds",
        "ft (libFuzzer features)",
        series,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz bench mutators", description=__doc__.splitlines()[0])
    add_layout_arguments(parser)
    parser.add_argument("name", help=f"harness with a custom mutator ({', '.join(sorted(MUTATORS))})")
    parser.add_argument("--time", type=int, default=60, help="seconds per run (default 60)")
    parser.add_argument("--trials", type=int, default=3, help="runs per mutator (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="base libFuzzer -seed: trial k uses BASE+k (default 1)")
    args = parser.parse_args(argv)
    if args.time <= 0 or args.trials <= 0:
        parser.error("--time and --trials must be > 0")
    if args.name not in MUTATORS:
        parser.error(f"harness '{args.name}' has no custom mutator (fuzz/mutators: {', '.join(sorted(MUTATORS))})")
    layout = layout_from_args(args)
    spec = find(layout, args.name)
    runner.check_runnable(spec)
    print(
        f"bench mutators: {spec.name}, empty corpus, {args.time} s per run, {args.trials} trial(s) per mutator, "
        f"seeds {args.seed}..{args.seed + args.trials - 1}",
        flush=True,
    )
    runs = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-mutators-") as tmp:
        for trial in range(args.trials):
            for mode, label in MODES:
                run = fuzz_once(spec, layout, Path(tmp), mode, args.seed + trial, args.time)
                runs.append(run)
                rate = run["executions"] / run["seconds"] if run["seconds"] else 0
                print(
                    f"  {label:20} trial {trial + 1}: ft {run['ft']:6}  cov {run['cov']:5}  "
                    f"{run['executions']:8} execs ({rate:5.0f}/s)"
                    + (f"  {run['crashes']} crash(es), resumed" if run["crashes"] else ""),
                    flush=True,
                )
    medians = {mode: statistics.median(r["ft"] for r in runs if r["mode"] == mode) for mode, _ in MODES}
    ratio = medians["custom"] / medians["bytes"] if medians["bytes"] else float("inf")
    print(
        f"\nmedian ft: custom mutator {medians['custom']:.0f}, byte mutator alone {medians['bytes']:.0f} "
        f"({time.monotonic() - started:.0f} s wall)"
    )
    chart = write_outputs(spec.name, runs, layout.reports / "mutators", args.time)
    print(f"chart: {chart} (samples: {chart.with_suffix('.csv')})")
    print(f"RESULT mutator_coverage_ratio_{spec.name} {ratio:.2f}")
    return 0
