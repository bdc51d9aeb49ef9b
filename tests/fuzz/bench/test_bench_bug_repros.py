"""The planted bugs' repro scripts, `bench/bugs/repro/NAME.py`: run from a tree's root, each shows its
bug's wrong external behaviour against that tree's proxy. On the clean tree every one passes (exit 0,
`ok: ...`); on a copy with the bug's patch applied it fails (exit 1, one line `FAIL: ...`)."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from fuzz.bench.bugs.catalog import REPRO_DIR
from fuzz.bench.bugs.tree import apply_patch, copy_repo
from fuzz.harness import REPO_ROOT

BUGS = REPO_ROOT / "bench" / "bugs"
REPROS = sorted(p.stem for p in (BUGS / REPRO_DIR).glob("*.py") if not p.name.startswith("_"))
TIMEOUT_S = 120
PARALLEL = 4  # repros mostly wait on sockets and timers: four at a time keep the suite short


def run_repro(tree, name: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, f"bench/bugs/{REPRO_DIR}/{name}.py"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def test_every_repro_belongs_to_a_planted_bug():
    assert REPROS, "no repro scripts found"
    assert [n for n in REPROS if not (BUGS / f"{n}.patch").is_file()] == []


@pytest.fixture(scope="module")
def clean_runs():
    """Every repro run once against the clean tree, a few at a time."""
    with ThreadPoolExecutor(PARALLEL) as pool:
        return dict(zip(REPROS, pool.map(lambda name: run_repro(REPO_ROOT, name), REPROS)))


@pytest.mark.parametrize("name", REPROS)
def test_the_repro_passes_on_the_clean_tree(name, clean_runs):
    proc = clean_runs[name]
    assert proc.returncode == 0 and proc.stdout.startswith("ok: "), proc.stdout + proc.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("name", REPROS)
def test_the_repro_fails_with_one_line_on_the_patched_copy(name, tmp_path):
    tree = copy_repo(REPO_ROOT, tmp_path / "tree")
    apply_patch(tree, BUGS / f"{name}.patch")
    proc = run_repro(tree, name)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("FAIL: "), proc.stdout
