"""python -m fuzz bench bugs [--bugs DIR] [--time S] [--trials N] [--seeds corpus|none] [--harness NAME...] [--bug NAME...]

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
     lines were executed at all (reached), the crash signature, and the phase are recorded:
     "seed replay" (the crash came while libFuzzer ran its initial corpus, before its INITED
     line: an input it was handed) or "mutation" (after INITED: an input it made);
  4. the baseline does the same: fuzz/bench/harnesses/fuzz_baseline_raw.py, raw bytes into
     examples/http.yaml with "no exception" as the only oracle, seeded from corpus/h1_server/.
--seeds none starts every harness, the baseline's too, from an empty corpus: no corpus/NAME/
files. What stays is part of the harness: its dictionary (corpus/NAME.dict; the baseline's is
h1_server.dict), its .options, and what the harness itself loads (session builds its config
pool from corpus/session_configs/ + examples/, the baseline loads examples/http.yaml). That
measures the fuzzer and the oracles without the committed seeds.
Summary: found N of M, median time to detection, how many detections came at seed replay,
survival table, both columns; beside it the survival curve (share of bug-trials found against
time, suite and baseline, as Magma plots it) in reports/bugs/survival.png (--chart).
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

from fuzz.bench.bugs import report as report
from fuzz.bench.bugs.catalog import Bug, CatalogError, load_bugs
from fuzz.bench.bugs.trial import Target, run_trial
from fuzz.bench.bugs.tree import apply_patch, copy_repo, functions_at
from fuzz.harness import REPO_ROOT

DEFAULT_BUGS = REPO_ROOT / "bench" / "bugs"
DEFAULT_CHART = REPO_ROOT / "reports" / "bugs" / "survival.png"
BASELINE = "baseline_raw"
BASELINE_DIR = "fuzz/bench/harnesses"
BASELINE_SEEDS_FROM = "h1_server"  # raw HTTP/1.1 requests: the same start the suite's codec harness gets
SEED_MODES = ("corpus", "none")
UNIT_TEST_TIMEOUT_S = 300


def _parser():
    p = argparse.ArgumentParser(prog="python -m fuzz bench bugs", description=__doc__.splitlines()[0])
    p.add_argument(
        "--bugs", type=Path, default=DEFAULT_BUGS, help="folder of NAME.patch + NAME.md (default bench/bugs)"
    )
    p.add_argument("--time", type=int, default=60, help="seconds per harness per trial (default 60)")
    p.add_argument("--trials", type=int, default=1, help="trials per bug (default 1)")
    p.add_argument("--seed", type=int, default=1, help="base seed: trial k uses -seed=BASE+k (default 1)")
    p.add_argument(
        "--seeds",
        choices=SEED_MODES,
        default="corpus",
        help="corpus (default): each harness replays its committed corpus/NAME/ seeds first "
        f"(the baseline: corpus/{BASELINE_SEEDS_FROM}/); none: every harness and the baseline "
        "start from an empty corpus. Either way libFuzzer gets the harness's dictionary and "
        ".options (part of the harness), and session still builds its config pool from "
        "corpus/session_configs/ + examples/",
    )
    p.add_argument(
        "--harness",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="run these harnesses for every bug instead of the ones each .md names",
    )
    p.add_argument(
        "--bug",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="only these bugs (patch file names without .patch); repeatable",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the baseline column")
    p.add_argument("--no-unit-tests", action="store_true", help="skip running the unit tests the .md names")
    p.add_argument("--keep", type=Path, help="build the copies under this folder and keep them (debugging)")
    p.add_argument(
        "--chart",
        type=Path,
        default=DEFAULT_CHART,
        help=f"where the survival curve goes (default {DEFAULT_CHART.relative_to(REPO_ROOT)})",
    )
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


def _corpus_root(pristine: Path, into: Path, sources: dict, seeds: str) -> Path:
    """A corpus root for Target.corpus: per harness NAME (from sources, NAME -> the corpus name
    it takes its files from), into/NAME/ (a copy of that seed folder with --seeds corpus, empty
    with none) and into/NAME.dict (the dictionary, when there is one: part of the harness)."""
    into.mkdir(parents=True, exist_ok=True)
    for name, source in sources.items():
        folder = pristine / "corpus" / source
        if seeds == "corpus" and folder.is_dir():
            shutil.copytree(folder, into / name)
        else:
            (into / name).mkdir()
        dictionary = pristine / "corpus" / f"{source}.dict"
        if dictionary.is_file():
            shutil.copy2(dictionary, into / f"{name}.dict")
    return into


def corpus_roots(pristine: Path, into: Path, seeds: str) -> tuple:
    """(the suite's corpus root, the baseline's). The suite's is None with --seeds corpus: each
    patched copy's own corpus/ (a pre-existing crash's seed is set aside there, per bug)."""
    if seeds not in SEED_MODES:
        raise ValueError(f"seeds must be one of {SEED_MODES}, not {seeds!r}")
    suite = None
    if seeds == "none":
        names = {p.stem[len("fuzz_") :]: p.stem[len("fuzz_") :] for p in (pristine / "harnesses").glob("fuzz_*.py")}
        suite = _corpus_root(pristine, into / "suite", names, seeds)
    baseline = _corpus_root(pristine, into / "baseline", {BASELINE: BASELINE_SEEDS_FROM}, seeds)
    return suite, baseline


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
        line = (
            f"{result.harness:16} FOUND at {result.seconds:6.1f} s (#{result.executions} execs, "
            f"{result.phase or 'phase ?'}, {result.how}) "
            f"{reach}; seed {seeds}\n{'':22}{result.signature}"
        )
    else:
        line = f"{result.harness:16} not found in {budget} s ({result.total_executions} execs) {reach}; seed {seeds}"
    for crash in result.unrelated:
        line += f"\n{'':22}also crashed, unpatched copy too (not this bug) at {crash.seconds:.1f} s: {crash.signature}"
    return line


def run_bug(
    bug: Bug, index: int, total: int, args, root: Path, pristine: Path, suite_corpus: Path | None, baseline_corpus: Path
):
    print(f"\n[{index}/{total}] {bug.name}: {bug.title}", flush=True)
    tree = root / bug.name
    copy_repo(REPO_ROOT, tree)
    _install_baseline(tree)
    try:
        apply_patch(tree, bug.patch)
    except CatalogError as exc:
        print(f"   patch: {exc}", flush=True)
        return ("no patch", report.BugOutcome([math.inf] * args.trials, [""] * args.trials, [""] * args.trials), None)
    functions = functions_at(tree, bug.lines)
    where = ", ".join(f"{f}:{fn}" for f, fn in sorted(functions))
    print(f"   patched: {where}", flush=True)
    unit = "skipped" if args.no_unit_tests else unit_tests(tree, bug.tests)
    print(f"   unit tests ({', '.join(bug.tests) or 'none'}): {unit}", flush=True)
    harnesses = list(args.harness or bug.harnesses)
    origin = "--harness" if args.harness else f"{bug.md.name}"
    print(f"   harnesses ({origin}): {', '.join(harnesses)}; expected oracle: {bug.oracle}", flush=True)
    suite, base = report.BugOutcome(), (None if args.no_baseline else report.BugOutcome())

    def trial_of(target: Target, trial: int):
        """One trial of one harness (or the baseline) on the patched tree, printed as it ends."""
        work = root / "work" / f"{bug.name}-{target.name}-t{trial}"
        r = run_trial(bug.name, tree, pristine, target, args.time, args.seed + trial, trial, work, functions, bug.lines)
        print(f"   trial {trial + 1}: {_describe(r, args.time)}", flush=True)
        return r

    for trial in range(args.trials):
        suite.add(report.best_of([trial_of(Target(name, corpus=suite_corpus), trial) for name in harnesses]))
        if base is not None:
            base.add(report.best_of([trial_of(Target(BASELINE, BASELINE_DIR, baseline_corpus), trial)]))
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
        # The repository's own catalog has a repro per bug; a catalog kept elsewhere need not.
        bugs = load_bugs(args.bugs, args.bug, require_repro=args.bugs.resolve() == DEFAULT_BUGS.resolve())
    except CatalogError as exc:
        print(f"error: {exc}")
        return 2
    seeds = ", ".join(str(args.seed + k) for k in range(args.trials))
    print(
        f"planted-bug bench: {len(bugs)} synthetic bugs from {args.bugs}; {args.trials} trial(s) of at most "
        f"{args.time} s per harness; libFuzzer -seed per trial: {seeds} (+1000 per restart after a crash "
        f"the unpatched copy shares)"
    )
    print(
        "harnesses: "
        + ("--harness " + " ".join(args.harness) if args.harness else "those each bug's .md names under '## Harnesses'")
        + ("" if args.no_baseline else f"; baseline: {BASELINE} (raw bytes -> examples/http.yaml, no oracle)")
    )
    if args.seeds == "corpus":
        print(
            f"seeds: corpus: each harness first replays its committed corpus/NAME/ (the baseline: "
            f"corpus/{BASELINE_SEEDS_FROM}/); a detection there counts as 'seed replay'"
        )
    else:
        print(
            "seeds: none: every harness and the baseline start from an empty corpus (no corpus/NAME/ files); "
            "libFuzzer still gets each harness's dictionary and .options (part of the harness), session "
            "still builds its config pool from corpus/session_configs/ + examples/; 'seed replay' here means "
            "the one empty input libFuzzer runs before mutating"
        )
    started = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-bugs-") as tmp:
        root = args.keep.resolve() if args.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        pristine = copy_repo(REPO_ROOT, root / "_unpatched")
        _install_baseline(pristine)
        suite_corpus, baseline_corpus = corpus_roots(pristine, root / "_corpus", args.seeds)
        for i, bug in enumerate(bugs, 1):
            unit, suite, base = run_bug(bug, i, len(bugs), args, root, pristine, suite_corpus, baseline_corpus)
            rows.append((bug.name, unit, suite, base))
    print(f"\n== summary ({time.monotonic() - started:.0f} s wall) ==")
    for line in report.summary(rows, args.time, args.trials, not args.no_baseline):
        print(line)
    chart = report.survival_chart(rows, args.time, not args.no_baseline, args.chart)
    print(f"survival curve: {chart}")
    found = sum(r[2].found for r in rows)
    print(f"RESULT bugs_found {found}/{len(rows)}")
    return 0
