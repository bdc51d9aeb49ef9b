"""Scratch copies of the repository for the planted-bug bench: the git-tracked files (as they
are in the working tree) plus the compiled schema `proxy/config/gen/`, optionally with a bug's
patch applied. The real tree is never modified."""

import ast
import re
import shutil
import subprocess
from pathlib import Path

from fuzz.bench.bugs.catalog import CatalogError

GENERATED = ("proxy/config/gen",)
# `patch` succeeded only by moving or fuzzing a hunk: the diff is stale against this tree.
_INEXACT = re.compile(r"with fuzz \d+|offset -?\d+ lines?")


def tracked_files(repo: Path) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p]


def copy_repo(repo: Path, dest: Path) -> Path:
    """Copy the tracked files and the generated schema of `repo` into `dest` (created)."""
    dest.mkdir(parents=True, exist_ok=False)
    for rel in tracked_files(repo):
        src = repo / rel
        if not src.is_file():  # deleted in the working tree, not yet in git
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    for rel in GENERATED:
        if (repo / rel).is_dir():
            shutil.copytree(repo / rel, dest / rel, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def apply_patch(tree: Path, patch: Path, dry_run: bool = False) -> None:
    """`patch -p1` in `tree`; CatalogError with patch's own words when it does not apply cleanly."""
    cmd = ["patch", "-p1", "--batch", "--forward", "--no-backup-if-mismatch", "-i", str(patch.resolve())]
    if dry_run:
        cmd.append("--dry-run")
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True)
    if proc.returncode != 0 or _INEXACT.search(proc.stdout):
        raise CatalogError(f"{patch.name} does not apply cleanly: {(proc.stdout + proc.stderr).strip()[-600:]}")


def functions_at(tree: Path, lines: dict) -> set[tuple[str, str]]:
    """(file, function name) of the innermost function around each patched line (what a
    traceback frame calls it); module-level lines give (file, "<module>")."""
    out = set()
    for rel, numbers in lines.items():
        path = tree / rel
        if not path.is_file() or not rel.endswith(".py"):
            continue
        defs = [
            n
            for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
        for line in numbers:
            around = [d for d in defs if d.lineno <= line <= (d.end_lineno or d.lineno)]
            innermost = max(around, key=lambda d: d.lineno, default=None)
            out.add((rel, innermost.name if innermost else "<module>"))
    return out
