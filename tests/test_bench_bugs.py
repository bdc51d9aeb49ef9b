"""The planted-bug bench (`python -m fuzz bench bugs`): its catalog, patch handling, figures,
and one short end-to-end run."""

import hashlib
import math
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.bench import _bugs_report as report
from fuzz.bench._bugs_catalog import REQUIRED_SECTIONS, CatalogError, check_md, load_bugs, patched_lines
from fuzz.bench._bugs_tree import apply_patch, copy_repo, functions_at
from fuzz.harness import REPO_ROOT

BUGS = REPO_ROOT / "bench" / "bugs"
PATCHES = sorted(BUGS.glob("*.patch"))


def test_the_catalog_has_at_least_15_bugs_each_with_a_description():
    assert len(PATCHES) >= 15
    assert {p.stem for p in PATCHES} == {m.stem for m in BUGS.glob("*.md")}


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


def test_a_stale_patch_is_refused_not_applied_with_an_offset(tmp_path):
    tree = tmp_path / "t"
    (tree / "p").mkdir(parents=True)
    (tree / "p" / "m.py").write_text("".join(f"line{i}\n" for i in range(20)))
    patch = tmp_path / "x.patch"
    patch.write_text("--- a/p/m.py\n+++ b/p/m.py\n@@ -3,3 +3,3 @@\n line5\n-line6\n+LINE6\n line7\n")
    with pytest.raises(CatalogError, match="does not apply cleanly"):
        apply_patch(tree, patch)


def test_functions_at_names_the_innermost_function(tmp_path):
    (tmp_path / "m.py").write_text("X = 1\n\nclass C:\n    def f(self):\n        def g():\n            return 1\n"
                                   "        return g\n")
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


def test_end_to_end_one_easy_bug_is_found_and_attributed_to_the_patch():
    cmd = [sys.executable, "-m", "fuzz", "bench", "bugs", "--bug", "ratelimit-tokens-negative", "--harness",
           "session", "--time", "8", "--no-baseline", "--no-unit-tests"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "FOUND at" in out and "TokenBucketInvariantError" in out and " reached;" in out
    assert "seed 1" in out
    assert out.rstrip().splitlines()[-1] == "RESULT bugs_found 1/1"
