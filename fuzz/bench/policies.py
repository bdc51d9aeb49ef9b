"""Same harness, same seed, same time under three instrumentation policies, side by side.

    python -m fuzz bench instrumentation [NAME] [--time S] [--seed N]

Policies: all (atheris.instrument_all()), project (repository + dependencies), derived (the
harness's instrumentation.toml section). For each: instrumented functions and counters (from the
harness's own report), executions and exec/s (libFuzzer's final stats), and the arcs covered in
the target modules (the derived policy's modules), measured afterwards by replaying each run's
corpus under coverage.py: one neutral yardstick, whatever counters guided the run.
Last line: RESULT instrumentation_speedup <derived exec/s / all exec/s>.
"""

import argparse
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fuzz import coverage
from fuzz.instrument import command as instrumentation
from fuzz.instrument import policy as policies
from fuzz.harness import REPORT_ENV, HarnessError, add_layout_arguments, corpus_files, find, layout_from_args
from fuzz.runner import STARTUP_GRACE, check_runnable, child_env, option_flags, stream

POLICY_ORDER = ("all", "project", "derived")


@dataclass
class PolicyRun:
    policy: str
    functions: int
    counters: int
    executions: int
    exec_per_sec: float
    seconds: float
    crashed: bool
    arcs: int = 0
    corpus: int = 0


def run_policy(spec, layout, policy: str, time_s: int, seed: int, tmp: Path) -> PolicyRun:
    work = tmp / policy / "corpus"
    shutil.copytree(spec.seeds, work) if spec.seeds.is_dir() else work.mkdir(parents=True)
    artifacts = tmp / policy / "artifacts"
    artifacts.mkdir()
    report = tmp / policy / "instrumentation.json"
    cmd = [
        str(spec.path.resolve()),
        str(work),
        f"-seed={seed}",
        f"-max_total_time={time_s}",
        f"-artifact_prefix={artifacts}{os.sep}",
        "-print_final_stats=1",
    ] + option_flags(spec)
    if spec.dictionary:
        cmd.append(f"-dict={spec.dictionary}")
    env = child_env(layout, policy)
    env[REPORT_ENV] = str(report)
    log = layout.work / "bench" / "instrumentation" / f"{spec.name}.{policy}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    rc, progress, timed_out, elapsed = stream(cmd, env, layout.root, time_s + STARTUP_GRACE, log)
    if not report.is_file():
        raise HarnessError(f"{spec.name} under policy {policy} wrote no instrumentation report (exit {rc}); see {log}")
    counts = json.loads(report.read_text())
    eps = progress.final_stats.get("average_exec_per_sec") or progress.exec_per_sec
    crashes = [p for p in corpus_files(artifacts) if p.name.startswith(("crash-", "timeout-", "oom-"))]
    if crashes or timed_out:
        print(f"    policy {policy}: {'timed out' if timed_out else crashes[0].name} (exit {rc}); see {log}")
    return PolicyRun(
        policy,
        counts["functions"],
        counts["counters"],
        progress.executions,
        float(eps),
        elapsed,
        bool(crashes) or timed_out,
        corpus=len(corpus_files(work)),
    )


def target_modules(spec, layout) -> list[str]:
    """The derived policy's modules, expanded over what the harness can load."""
    pf = policies.load(layout.policy_file)
    hp = pf.for_harness(spec.name)
    reach = instrumentation.reach_of(spec, layout)
    if not hp.modules:
        raise HarnessError(
            f"harness '{spec.name}' has no [harness.{spec.name}.modules] in {layout.policy_file}: "
            f"the derived policy would instrument nothing (see `python -m fuzz instrumentation "
            f"scan {spec.name}`)"
        )
    return instrumentation.current(hp, reach)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz bench instrumentation", description=__doc__.split("\n")[0])
    add_layout_arguments(parser)
    parser.add_argument("name", nargs="?", default="session", help="harness (default: session)")
    parser.add_argument("--time", type=int, default=60, help="seconds of fuzzing per policy (default 60)")
    parser.add_argument("--seed", type=int, default=1337, help="libFuzzer -seed, the same for every policy")
    args = parser.parse_args(argv)
    if args.time <= 0:
        parser.error("--time must be > 0")
    layout = layout_from_args(args)
    spec = find(layout, args.name)
    check_runnable(spec)
    modules = target_modules(spec, layout)
    print(
        f"bench instrumentation: harness {spec.name}, {args.time} s per policy, -seed={args.seed}, "
        f"target modules ({len(modules)}): {', '.join(modules)}",
        flush=True,
    )
    runs = []
    with tempfile.TemporaryDirectory(prefix="proxyfuzz-bench-") as tmp:
        for policy in POLICY_ORDER:
            print(f"  fuzzing under policy {policy} ...", flush=True)
            run = run_policy(spec, layout, policy, args.time, args.seed, Path(tmp))
            run.arcs = coverage.arcs_covered(spec, layout, Path(tmp) / policy / "corpus", modules)["arcs"]
            runs.append(run)
    print(
        f"\n{'policy':8} {'functions':>9} {'counters':>9} {'executions':>11} {'exec/s':>9} "
        f"{'corpus':>7} {'target arcs':>11}"
    )
    for r in runs:
        note = "  (crashed: rate covers the time before the crash)" if r.crashed else ""
        print(
            f"{r.policy:8} {r.functions:9} {r.counters:9} {r.executions:11} {r.exec_per_sec:9.0f} "
            f"{r.corpus:7} {r.arcs:11}{note}"
        )
    by = {r.policy: r for r in runs}
    speedup = by["derived"].exec_per_sec / by["all"].exec_per_sec if by["all"].exec_per_sec else float("inf")
    print(f"derived vs all: {speedup:.2f}x exec/s, target arcs {by['derived'].arcs} vs {by['all'].arcs}")
    print(f"RESULT instrumentation_speedup {speedup:.2f}")
    return 0
