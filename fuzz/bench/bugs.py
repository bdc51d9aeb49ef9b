"""python -m fuzz bench bugs [--bugs DIR] [--time S] [--trials N] [--harness NAME...] [--bug NAME...]

Bug-finding power, measured the way Magma and FuzzBench do: ground-truth bugs, time to
detection, several trials with reported seeds, and a baseline beside the suite.

Each bug in DIR (default bench/bugs/) is NAME.patch (a unified diff against the repository
root) and NAME.md (what, where, which oracle should catch it, the harnesses expected to find it,
the unit tests to run; the bugs are synthetic). For every bug:
  1. the repository (git-tracked files + the compiled proxy/config/gen/) is copied to a
     temporary folder and the patch applied there (the real tree is never touched);
  2. the unit tests the .md names run against the copy: do they notice the bug?
  3. per trial, the harnesses the .md names (or --harness) fuzz the copy for at most S
     seconds each with seed -seed=BASE+trial; a crash is the bug's detection when its input
     does not crash an unpatched copy; time to detection, executions, whether the patched
     lines were executed at all (reached) and the crash signature are recorded;
  4. the baseline does the same: fuzz/bench/harnesses/fuzz_baseline_raw.py, raw bytes into
     examples/http.yaml with "no exception" as the only oracle.
Summary: found N of M, median time to detection, survival table, both columns.
Last line: RESULT bugs_found <N>/<M> (the suite's count).
"""

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fuzz.bench import _bugs_report as report
from fuzz.bench._bugs_catalog import Bug, CatalogError, load_bugs
from fuzz.bench._bugs_trial import Target, run_trial
from fuzz.bench._bugs_tree import apply_patch, copy_repo, functions_at
from fuzz.harness import REPO_ROOT

DEFAULT_BUGS = REPO_ROOT / "bench" / "bugs"
BASELINE = "baseline_raw"
BASELINE_DIR = "fuzz/bench/harnesses"
BASELINE_SEEDS_FROM = "h1_server"   # raw HTTP/1.1 requests: the same start the suite's codec harness gets
UNIT_TEST_TIMEOUT_S = 300


def _parser():
    p = argparse.ArgumentParser(prog="python -m fuzz bench bugs", description=__doc__.splitlines()[0])
    p.add_argument("--bugs", type=Path, default=DEFAULT_BUGS, help="folder of NAME.patch + NAME.md (default bench/bugs)")
    p.add_argument("--time", type=int, default=60, help="seconds per harness per trial (default 60)")
    p.add_argument("--trials", type=int, default=1, help="trials per bug (default 1)")
    p.add_argument("--seed", type=int, default=1, help="base seed: trial k uses -seed=BASE+k (default 1)")
    p.add_argument("--harness", nargs="+", metavar="NAME",
                   help="run these harnesses for every bug instead of the ones each .md names")
    p.add_argument("--bug", nargs="+", metavar="NAME", help="only these bugs (patch file names without .patch)")
    p.add_argument("--no-baseline", action="store_true", help="skip the baseline column")
    p.add_argument("--no-unit-tests", action="store_true", help="skip running the unit tests the .md names")
    p.add_argument("--keep", type=Path, help="build the copies under this folder and keep them (debugging)")
    return p


def unit_tests(tree: Path, tests: tuple) -> str:
    """Run the named test files against the patched copy: 'noticed' when any fails."""
    if not tests:
        return "none named"
    missing = [t for t in tests if not (tree / t).is_file()]
    if missing:
        return f"missing {','.join(missing)}"
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-m", "not slow", "-p", "no:cacheprovider", *tests]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=UNIT_TEST_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return "timeout"
    if proc.returncode == 0:
        return "silent"
    if proc.returncode == 1:
        return "noticed"
    return f"error rc={proc.returncode}"


def _baseline_corpus(pristine: Path, into: Path) -> Path:
    seeds = into / BASELINE
    shutil.copytree(pristine / "corpus" / BASELINE_SEEDS_FROM, seeds)
    dictionary = pristine / "corpus" / f"{BASELINE_SEEDS_FROM}.dict"
    if dictionary.is_file():
        shutil.copy2(dictionary, into / f"{BASELINE}.dict")
    return into


def _install_baseline(tree: Path) -> None:
    """The engine's own baseline harness goes into every copy (it may not be committed yet)."""
    dest = tree / BASELINE_DIR
    dest.mkdir(parents=True, exist_ok=True)
    for suffix in (".py", ".options"):
        src = REPO_ROOT / BASELINE_DIR / f"fuzz_{BASELINE}{suffix}"
        if src.is_file():
            shutil.copy2(src, dest / src.name)


def _describe(result, budget: int) -> str:
    reach = {True: "reached", False: "NOT reached", None: "reach ?"}[result.reached]
    if result.error:
        return f"{result.harness:16} error: {result.error}"
    seeds = ",".join(str(s) for s in result.seeds)
    if result.detected:
        line = (f"{result.harness:16} FOUND at {result.seconds:6.1f} s (#{result.executions} execs, {result.how}) "
                f"{reach}; seed {seeds}\n{'':22}{result.signature}")
    else:
        line = f"{result.harness:16} not found in {budget} s ({result.total_executions} execs) {reach}; seed {seeds}"
    for crash in result.unrelated:
        line += f"\n{'':22}also crashed, unpatched copy too (not this bug) at {crash.seconds:.1f} s: {crash.signature}"
    return line


def run_bug(bug: Bug, index: int, total: int, args, root: Path, pristine: Path, baseline_corpus: Path):
    print(f"\n[{index}/{total}] {bug.name}: {bug.title}", flush=True)
    tree = root / bug.name
    copy_repo(REPO_ROOT, tree)
    _install_baseline(tree)
    try:
        apply_patch(tree, bug.patch)
    except CatalogError as exc:
        print(f"   patch: {exc}", flush=True)
        return "no patch", report.BugOutcome([math.inf] * args.trials, [""] * args.trials), None
    functions = functions_at(tree, bug.lines)
    where = ", ".join(f"{f}:{fn}" for f, fn in sorted(functions))
    print(f"   patched: {where}", flush=True)
    unit = "skipped" if args.no_unit_tests else unit_tests(tree, bug.tests)
    print(f"   unit tests ({', '.join(bug.tests) or 'none'}): {unit}", flush=True)
    harnesses = list(args.harness or bug.harnesses)
    origin = "--harness" if args.harness else f"{bug.md.name}"
    print(f"   harnesses ({origin}): {', '.join(harnesses)}; expected oracle: {bug.oracle}", flush=True)
    suite, base = report.BugOutcome(), (None if args.no_baseline else report.BugOutcome())
    for trial in range(args.trials):
        seed = args.seed + trial
        results = []
        for name in harnesses:
            work = root / "work" / f"{bug.name}-{name}-t{trial}"
            r = run_trial(bug.name, tree, pristine, Target(name), args.time, seed, trial, work, functions, bug.lines)
            print(f"   trial {trial + 1}: {_describe(r, args.time)}", flush=True)
            results.append(r)
        t, h = report.best_of(results)
        suite.times.append(t)
        suite.harness.append(h)
        if base is not None:
            work = root / "work" / f"{bug.name}-{BASELINE}-t{trial}"
            r = run_trial(bug.name, tree, pristine, Target(BASELINE, BASELINE_DIR, baseline_corpus), args.time,
                          seed, trial, work, functions, bug.lines)
            print(f"   trial {trial + 1}: {_describe(r, args.time)}", flush=True)
            t, h = report.best_of([r])
            base.times.append(t)
            base.harness.append(h)
    if args.keep is None:
        shutil.rmtree(tree, ignore_errors=True)
        shutil.rmtree(root / "work", ignore_errors=True)
    return unit, suite, base


def main(argv) -> int:
    args = _parser().parse_args(argv)
    if args.time <= 0 or args.trials <= 0:
        print("error: --time and --trials must be > 0")
        return 2
    if shutil.which("patch") is None:
        print("error: the `patch` program is not installed (apt-get install patch)")
        return 2
    try:
        bugs = load_bugs(args.bugs, args.bug)
    except CatalogError as exc:
        print(f"error: {exc}")
        return 2
    seeds = ", ".join(str(args.seed + k) for k in range(args.trials))
    print(f"planted-bug bench: {len(bugs)} synthetic bugs from {args.bugs}; {args.trials} trial(s) of at most "
          f"{args.time} s per harness; libFuzzer -seed per trial: {seeds} (+1000 per restart after a crash "
          f"the unpatched copy shares)")
    print("harnesses: " + ("--harness " + " ".join(args.harness) if args.harness else
                           "those each bug's .md names under '## Harnesses'")
          + ("" if args.no_baseline else f"; baseline: {BASELINE} (raw bytes -> examples/http.yaml, no oracle)"))
    started = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-bugs-") as tmp:
        root = args.keep.resolve() if args.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        pristine = copy_repo(REPO_ROOT, root / "_unpatched")
        _install_baseline(pristine)
        baseline_corpus = _baseline_corpus(pristine, root / "_baseline_corpus")
        for i, bug in enumerate(bugs, 1):
            unit, suite, base = run_bug(bug, i, len(bugs), args, root, pristine, baseline_corpus)
            rows.append((bug.name, unit, suite, base))
    print(f"\n== summary ({time.monotonic() - started:.0f} s wall) ==")
    for line in report.summary(rows, args.time, args.trials, not args.no_baseline):
        print(line)
    found = sum(r[2].found for r in rows)
    print(f"RESULT bugs_found {found}/{len(rows)}")
    return 0
