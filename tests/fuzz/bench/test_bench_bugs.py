"""The planted-bug bench (`python -m fuzz bench bugs`): its catalog, patch handling, figures,
and one short end-to-end run."""

import hashlib
import math
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.bench.bugs import report as report
from fuzz.bench.bugs.catalog import REQUIRED_SECTIONS, CatalogError, check_md, load_bugs, patched_lines
from fuzz.bench.bugs.tree import apply_patch, copy_repo, functions_at
from fuzz.harness import REPO_ROOT

BUGS = REPO_ROOT / "bench" / "bugs"
PATCHES = sorted(BUGS.glob("*.patch"))


def test_the_catalog_has_at_least_15_bugs_each_with_a_description():
    assert len(PATCHES) >= 15
    assert {p.stem for p in PATCHES} == {m.stem for m in BUGS.glob("*.md")}


def test_every_bug_in_the_catalog_has_a_repro_script():
    bugs = load_bugs(BUGS, require_repro=True)  # raises CatalogError naming the first bug without one
    assert all(bug.repro is not None for bug in bugs)


@pytest.mark.parametrize("patch", PATCHES, ids=[p.stem for p in PATCHES])
def test_patch_applies_cleanly_to_the_current_tree(patch):
    apply_patch(REPO_ROOT, patch, dry_run=True)  # raises CatalogError with patch's output otherwise


@pytest.mark.parametrize("patch", PATCHES, ids=[p.stem for p in PATCHES])
def test_description_has_the_required_sections_and_names_real_harnesses_and_tests(patch):
    md = patch.with_suffix(".md")
    assert check_md(md) == []
    (bug,) = load_bugs(BUGS, [patch.stem])
    assert bug.harnesses, "a bug must name the harnesses expected to find it"
    for name in bug.harnesses:
        assert (REPO_ROOT / "harnesses" / f"fuzz_{name}.py").is_file(), name
    for test in bug.tests:
        assert (REPO_ROOT / test).is_file(), test
    assert all(f.startswith("proxy/") for f in bug.files), "planted bugs live in the proxy core"


def test_check_md_names_every_missing_section_and_the_synthetic_statement(tmp_path):
    md = tmp_path / "x.md"
    md.write_text("# A bug\n\n## What\n\nsomething\n")
    problems = "\n".join(check_md(md))
    for section in REQUIRED_SECTIONS[1:]:
        assert f"'## {section}'" in problems
    assert "synthetic" in problems


def test_patched_lines_are_added_lines_or_the_lines_around_a_pure_deletion():
    diff = """diff --git a/p/m.py b/p/m.py
--- a/p/m.py
+++ b/p/m.py
@@ -10,4 +10,4 @@ def f():
     a = 1
-    b = 2
+    b = 3
     c = 4
     d = 5
@@ -30,4 +30,3 @@ def g():
     x = 1
-    if y:
     z = 2
     w = 3
"""
    assert patched_lines(diff) == {"p/m.py": [11, 30, 31]}


def test_patched_lines_refuses_text_that_is_not_a_diff():
    with pytest.raises(CatalogError, match="not a unified diff"):
        patched_lines("hello\n", "x.patch")


def test_load_bugs_errors_name_the_problem(tmp_path):
    with pytest.raises(CatalogError, match="not a directory"):
        load_bugs(tmp_path / "nope")
    with pytest.raises(CatalogError, match="no \\*.patch"):
        load_bugs(tmp_path)
    (tmp_path / "b.patch").write_text("+++ b/x.py\n")
    with pytest.raises(CatalogError, match="no description b.md"):
        load_bugs(tmp_path)
    with pytest.raises(CatalogError, match="--bug zzz: not in"):
        load_bugs(BUGS, ["zzz"])


def test_a_bug_without_a_repro_script_is_refused_where_the_catalog_requires_one(tmp_path):
    (tmp_path / "b.patch").write_text((BUGS / "route-vhost-case-sensitive.patch").read_text())
    (tmp_path / "b.md").write_text((BUGS / "route-vhost-case-sensitive.md").read_text())
    with pytest.raises(CatalogError, match="no repro script repro/b.py"):
        load_bugs(tmp_path, require_repro=True)
    (bug,) = load_bugs(tmp_path)  # a catalog kept elsewhere may have none
    assert bug.repro is None
    (tmp_path / "repro").mkdir()
    (tmp_path / "repro" / "b.py").write_text("print('ok: fine')\n")
    (bug,) = load_bugs(tmp_path, require_repro=True)
    assert bug.repro == tmp_path / "repro" / "b.py"


def test_a_stale_patch_is_refused_not_applied_with_an_offset(tmp_path):
    tree = tmp_path / "t"
    (tree / "p").mkdir(parents=True)
    (tree / "p" / "m.py").write_text("".join(f"line{i}\n" for i in range(20)))
    patch = tmp_path / "x.patch"
    patch.write_text("--- a/p/m.py\n+++ b/p/m.py\n@@ -3,3 +3,3 @@\n line5\n-line6\n+LINE6\n line7\n")
    with pytest.raises(CatalogError, match="does not apply cleanly"):
        apply_patch(tree, patch)


def test_recut_moves_a_stale_hunk_to_its_new_place_and_refuses_a_changed_context(tmp_path):
    from fuzz.bench.bugs.recut import recut

    tree = tmp_path / "t"
    (tree / "p").mkdir(parents=True)
    (tree / "p" / "m.py").write_text("".join(f"line{i}\n" for i in range(20)))
    patch = tmp_path / "x.patch"
    patch.write_text("--- a/p/m.py\n+++ b/p/m.py\n@@ -3,3 +3,3 @@\n line5\n-line6\n+LINE6\n line7\n")
    assert recut(patch, tree) == "recut"
    assert "@@ -4,7 +4,7 @@\n line3\n line4\n line5\n-line6\n+LINE6\n" in patch.read_text()
    assert recut(patch, tree) == "ok"
    apply_patch(tree, patch)
    assert "LINE6" in (tree / "p" / "m.py").read_text()
    (tree / "p" / "m.py").write_text("".join(f"other{i}\n" for i in range(20)))
    with pytest.raises(CatalogError, match="does not apply even with offset"):
        recut(patch, tree)


def test_functions_at_names_the_innermost_function(tmp_path):
    (tmp_path / "m.py").write_text(
        "X = 1\n\nclass C:\n    def f(self):\n        def g():\n            return 1\n        return g\n"
    )
    assert functions_at(tmp_path, {"m.py": [1, 6, 7]}) == {("m.py", "<module>"), ("m.py", "g"), ("m.py", "f")}


def test_copy_has_tracked_files_and_the_compiled_schema_and_leaves_the_tree_alone(tmp_path):
    (patch,) = [p for p in PATCHES if p.stem == "route-weighted-off-by-one"]
    target = REPO_ROOT / "proxy" / "upstream" / "lb.py"
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    tree = copy_repo(REPO_ROOT, tmp_path / "copy")
    assert (tree / "fuzz" / "harness.py").is_file() and (tree / "harnesses" / "fuzz_session.py").is_file()
    if (REPO_ROOT / "proxy" / "config" / "gen").is_dir():
        assert (tree / "proxy" / "config" / "gen" / "bootstrap_pb2.py").is_file()
    apply_patch(tree, patch)
    assert "if point <= weight:" in (tree / "proxy" / "upstream" / "lb.py").read_text()
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before


def test_survival_and_medians_count_misses_as_beyond_the_budget():
    a = report.BugOutcome([2.0, math.inf], ["session", ""])
    b = report.BugOutcome([45.0, 8.0], ["route", "route"])
    assert report.survival([a, b], 60) == ["50%", "75%", "n/a", "n/a"]
    assert a.found and a.found_trials == 1 and a.median() == math.inf
    assert report.fmt_time(a.median(), 60) == ">60"
    line = report.median_line([a, b], 60)
    assert line.startswith("26.5 s over all 4 bug-trials") and "8.0 s over the 3 detections" in line


def test_cli_bad_arguments_are_clear_errors_not_tracebacks(tmp_path):
    cmd = [sys.executable, "-m", "fuzz", "bench", "bugs", "--bugs", str(tmp_path / "none")]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not a directory" in proc.stdout and "Traceback" not in proc.stderr
    proc = subprocess.run(cmd[:5] + ["--time", "0"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--time" in proc.stdout


def test_end_to_end_one_easy_bug_is_found_and_attributed_to_the_patch(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "fuzz",
        "bench",
        "bugs",
        "--bug",
        "ratelimit-tokens-negative",
        "--harness",
        "session",
        "--time",
        "8",
        "--no-baseline",
        "--no-unit-tests",
        "--chart",
        str(tmp_path / "survival.png"),
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "FOUND at" in out and "TokenBucketInvariantError" in out and " reached;" in out
    assert "seed 1" in out
    assert f"survival curve: {tmp_path / 'survival.png'}" in out and (tmp_path / "survival.png").is_file()
    assert out.rstrip().splitlines()[-1] == "RESULT bugs_found 1/1"


# --- seed replay vs mutation, and --seeds none ------------------------------------------------

from fuzz import runner  # noqa: E402
from fuzz.bench.bugs import command as bugs  # noqa: E402
from fuzz.bench.bugs.trial import (  # noqa: E402
    MUTATION,
    RESTART_REPLAY,
    SEED_REPLAY,
    PhaseTracker,
    TrialResult,
    phase_of_log,
)
from fuzz.harness import spec_for  # noqa: E402

_LOG_HEAD = """INFO: proxyfuzz instrumentation: harness=route policy=derived modules=3 functions=47 counters=198
INFO: Using built-in libfuzzer
Dictionary: 37 entries
INFO: Seed: 1
INFO:        0 files found in /w/corpus/route
INFO:      146 files found in /c/route
INFO: seed corpus: files: 146 min: 28b max: 253b total: 18925b rss: 51Mb
"""
_CRASH = """
 === Uncaught Python exception: ===
RouteMismatch: reference picked c1, router picked c2
Traceback (most recent call last):
  File "/t/harnesses/fuzz_route.py", line 40, in TestOneInput
==4242== ERROR: libFuzzer: fuzz target exited
MS: 0 ; base unit: 0000000000000000000000000000000000000000
artifact_prefix='/w/artifacts/route/'; Test unit written to /w/artifacts/route/crash-1
"""
CRASH_AT_REPLAY = _LOG_HEAD + "#128\tpulse  cov: 100 ft: 300 corp: 30/3000b exec/s: 0 rss: 52Mb\n" + _CRASH
CRASH_AFTER_INITED = (
    _LOG_HEAD + "#147\tINITED cov: 110 ft: 333 corp: 40/3916b exec/s: 0 rss: 52Mb\n"
    "#150\tNEW    cov: 111 ft: 334 corp: 41/3951b lim: 251 exec/s: 0 rss: 52Mb L: 35/251 MS: 1 "
    "CopyPart-\n" + _CRASH.replace("MS: 0 ;", "MS: 2 ChangeByte-CrossOver-;")
)
EMPTY_CORPUS_CRASH = "INFO: A corpus is not provided, starting from an empty corpus\n" + _CRASH


def test_a_crash_before_libfuzzers_inited_line_is_seed_replay_after_it_mutation():
    assert phase_of_log(CRASH_AT_REPLAY) == SEED_REPLAY  # pulse lines during replay are not INITED
    assert phase_of_log(CRASH_AFTER_INITED) == MUTATION
    assert phase_of_log(EMPTY_CORPUS_CRASH) == SEED_REPLAY  # the one empty input runs before INITED too
    assert phase_of_log(CRASH_AT_REPLAY, restart=1) == RESTART_REPLAY
    assert phase_of_log(CRASH_AFTER_INITED, restart=2) == MUTATION
    assert (
        phase_of_log(_LOG_HEAD + "#147\tINITED cov: 1 ft: 1 corp: 1/1b exec/s: 0 rss: 1Mb\n#4096\tDONE cov: 1\n")
        is None
    )


def test_the_phase_tracker_fires_once_at_the_first_crash_line_as_the_trial_streams_it():
    tracker = PhaseTracker()
    fired = [line for line in CRASH_AFTER_INITED.splitlines() if tracker.feed(line)]
    assert fired == [" === Uncaught Python exception: ==="] and tracker.phase == MUTATION


def _outcome(*trials):
    """trials: (seconds or None, phase)"""
    return report.BugOutcome(
        [math.inf if t is None else t for t, _ in trials],
        ["h" if t is not None else "" for t, _ in trials],
        [p for _, p in trials],
    )


def test_summary_counts_detections_at_seed_replay_and_by_mutation():
    rows = [
        ("a", "silent", _outcome((0.2, SEED_REPLAY), (0.3, SEED_REPLAY)), _outcome((None, ""), (None, ""))),
        ("b", "noticed", _outcome((12.0, MUTATION), (None, "")), _outcome((30.0, MUTATION), (None, ""))),
        ("c", "silent", _outcome((5.0, RESTART_REPLAY), (1.0, SEED_REPLAY)), _outcome((None, ""), (None, ""))),
    ]
    lines = report.summary(rows, 60, 2, True)
    assert "at replay" in lines[0]
    row_a, row_b = lines[2], lines[3]
    assert row_a.split()[:6] == ["a", "silent", "2/2", "0.2", "h", "2/2"]
    assert row_a.split()[6:] == ["0/2", ">60", "0/0"]
    assert row_b.split()[5] == "0/1" and row_b.split()[-1] == "0/1"
    assert "suite:    3 of 5 detections at seed replay, 1 by mutation, 1 at corpus replay after a restart" in lines
    assert "baseline: 0 of 1 detections at seed replay, 1 by mutation" in lines
    assert report.best_of(
        [
            TrialResult("x", "p", 0, detected=True, seconds=4.0, phase=MUTATION),
            TrialResult("x", "q", 0, detected=True, seconds=1.0, phase=SEED_REPLAY),
            TrialResult("x", "r", 0),
        ]
    ) == (1.0, "q", SEED_REPLAY)
    assert report.best_of([TrialResult("x", "r", 0)]) == (math.inf, "", "")


def _fake_pristine(tmp_path):
    tree = tmp_path / "pristine"
    for name in ("a", "b"):
        (tree / "harnesses").mkdir(parents=True, exist_ok=True)
        (tree / "harnesses" / f"fuzz_{name}.py").write_text("#!/usr/bin/env python3\n")
        (tree / "corpus" / name).mkdir(parents=True)
        (tree / "corpus" / name / "seed1").write_bytes(b"GET / HTTP/1.1\r\n\r\n")
    (tree / "corpus" / "a.dict").write_text('"GET"\n')
    (tree / "corpus" / bugs.BASELINE_SEEDS_FROM).mkdir()
    (tree / "corpus" / bugs.BASELINE_SEEDS_FROM / "r1").write_bytes(b"GET / HTTP/1.1\r\n\r\n")
    (tree / "corpus" / f"{bugs.BASELINE_SEEDS_FROM}.dict").write_text('"Host:"\n')
    return tree


def _corpus_dirs_in_command(target, tree, work):
    layout = target.layout(tree, work)
    spec = spec_for(layout, layout.harnesses / f"fuzz_{target.name}.py")
    cmd = runner.fuzz_command(spec, layout, 5, 1)
    return [Path(c) for c in cmd[1:] if not c.startswith("-")], cmd


def test_seeds_none_gives_every_harness_and_the_baseline_an_empty_corpus_but_keeps_the_dictionary(tmp_path):
    tree = _fake_pristine(tmp_path)
    (tree / bugs.BASELINE_DIR).mkdir(parents=True)
    (tree / bugs.BASELINE_DIR / f"fuzz_{bugs.BASELINE}.py").write_text("#!/usr/bin/env python3\n")
    suite, base = bugs.corpus_roots(tree, tmp_path / "c", "none")
    assert sorted(p.name for p in suite.iterdir()) == ["a", "a.dict", "b"]
    for target in (
        bugs.Target("a", corpus=suite),
        bugs.Target("b", corpus=suite),
        bugs.Target(bugs.BASELINE, bugs.BASELINE_DIR, base),
    ):
        dirs, cmd = _corpus_dirs_in_command(target, tree, tmp_path / "w" / target.name)
        assert dirs and all(not d.exists() or not any(d.iterdir()) for d in dirs), (target, cmd)
        assert all(str(tree / "corpus") not in str(d) for d in dirs)
    assert f"-dict={suite / 'a.dict'}" in _corpus_dirs_in_command(bugs.Target("a", corpus=suite), tree, tmp_path)[1]
    assert (
        f"-dict={base / 'baseline_raw.dict'}"
        in _corpus_dirs_in_command(bugs.Target(bugs.BASELINE, bugs.BASELINE_DIR, base), tree, tmp_path)[1]
    )


def test_seeds_corpus_keeps_the_copys_own_seeds_and_the_baselines_h1_server_seeds(tmp_path):
    tree = _fake_pristine(tmp_path)
    suite, base = bugs.corpus_roots(tree, tmp_path / "c", "corpus")
    assert suite is None  # Target(name) -> the patched copy's own corpus/
    assert [p.name for p in (base / bugs.BASELINE).iterdir()] == ["r1"]
    assert (base / f"{bugs.BASELINE}.dict").is_file()
    with pytest.raises(ValueError):
        bugs.corpus_roots(tree, tmp_path / "d", "some")


def test_seeds_none_on_the_real_repository_leaves_no_seed_in_any_harness_folder(tmp_path):
    suite, base = bugs.corpus_roots(REPO_ROOT, tmp_path / "c", "none")
    names = {p.stem[len("fuzz_") :] for p in (REPO_ROOT / "harnesses").glob("fuzz_*.py")}
    assert names and {p.name for p in suite.iterdir() if p.is_dir()} == names
    assert not any(f.is_file() for root in (suite, base) for f in root.rglob("*") if f.parent != root)
    for name in names:
        assert (suite / f"{name}.dict").is_file() == (REPO_ROOT / "corpus" / f"{name}.dict").is_file()


def test_run_bug_hands_the_seeds_none_corpus_root_to_every_trial_suite_and_baseline(tmp_path, monkeypatch):
    (bug,) = load_bugs(BUGS, ["ratelimit-tokens-negative"])
    seen = []

    def fake_trial(bug_name, tree, pristine, target, time_s, seed, trial, work, functions, lines):
        seen.append(target)
        return TrialResult(
            bug_name,
            target.name,
            trial,
            seeds=[seed],
            detected=target.name != bugs.BASELINE,
            seconds=0.5,
            executions=0,
            how="revert-confirmed",
            phase=MUTATION,
            reached=True,
        )

    monkeypatch.setattr(bugs, "copy_repo", lambda src, dest: dest.mkdir(parents=True) or dest)
    monkeypatch.setattr(bugs, "_install_baseline", lambda tree: None)
    monkeypatch.setattr(bugs, "apply_patch", lambda tree, patch: None)
    monkeypatch.setattr(bugs, "functions_at", lambda tree, lines: set())
    monkeypatch.setattr(bugs, "run_trial", fake_trial)
    args = bugs._parser().parse_args(["--seeds", "none", "--no-unit-tests", "--harness", "session", "route"])
    suite_root, base_root = bugs.corpus_roots(REPO_ROOT, tmp_path / "c", args.seeds)
    unit, suite, base = bugs.run_bug(bug, 1, 1, args, tmp_path, REPO_ROOT, suite_root, base_root)
    assert [t.name for t in seen] == ["session", "route", bugs.BASELINE]
    assert [t.corpus for t in seen] == [suite_root, suite_root, base_root]
    assert suite.phase == [MUTATION] and suite.times == [0.5] and not base.found
