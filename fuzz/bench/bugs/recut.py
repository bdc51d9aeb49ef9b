"""`python -m fuzz recut-bugs [NAME ...]`: re-cut planted-bug patches whose hunks moved.

A planted patch must apply to the current tree exactly (no offset, no fuzz), or the bench refuses
it. An edit near a patched line moves the hunk; this re-applies each stale patch to a scratch copy
with `patch`'s own tolerance and writes the resulting diff back, so the bug stays the same change
at its new place. A patch that does not apply even with tolerance is reported, never rewritten:
its context changed and somebody has to plant that bug again by hand.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from fuzz.bench.bugs.catalog import CatalogError, patched_lines
from fuzz.bench.bugs.tree import apply_patch

REPO_ROOT = Path(__file__).resolve().parents[3]
BUGS = REPO_ROOT / "bench" / "bugs"


def _diff(original: Path, patched: Path, rel: str) -> str:
    """A unified diff of one file with git's a/ b/ names (what `patch -p1` reads)."""
    proc = subprocess.run(
        ["diff", "-u", "--label", f"a/{rel}", "--label", f"b/{rel}", str(original), str(patched)],
        capture_output=True,
        text=True,
    )
    if proc.returncode not in (0, 1):
        raise CatalogError(f"diff failed on {rel}: {proc.stderr.strip()}")
    return proc.stdout


def recut(patch: Path, repo: Path = REPO_ROOT) -> str:
    """'ok' (applies exactly), 'recut' (rewritten in place) or raises CatalogError (does not apply)."""
    try:
        apply_patch(repo, patch, dry_run=True)
        return "ok"
    except CatalogError:
        pass
    files = sorted(patched_lines(patch.read_text(encoding="utf-8"), str(patch)))
    with tempfile.TemporaryDirectory(prefix="recut-") as tmp:
        tree = Path(tmp)
        for rel in files:
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (tree / rel).write_bytes((repo / rel).read_bytes())
        proc = subprocess.run(
            ["patch", "-p1", "--batch", "--forward", "--no-backup-if-mismatch", "-i", str(patch.resolve())],
            cwd=tree,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise CatalogError(
                f"{patch.name} does not apply even with offset or fuzz: {(proc.stdout + proc.stderr).strip()[-400:]}"
            )
        text = "".join(_diff(repo / rel, tree / rel, rel) for rel in files)
    patch.write_text(text, encoding="utf-8")
    apply_patch(repo, patch, dry_run=True)  # the new cut must apply exactly
    return "recut"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz recut-bugs", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="bug names (default: every patch in --bugs)")
    parser.add_argument("--bugs", type=Path, default=BUGS, help="catalog folder (default: bench/bugs)")
    args = parser.parse_args(argv)
    patches = [args.bugs / f"{n}.patch" for n in args.names] or sorted(args.bugs.glob("*.patch"))
    failed = 0
    for patch in patches:
        if not patch.is_file():
            print(f"{patch.stem}: no such patch in {args.bugs}")
            failed += 1
            continue
        try:
            print(f"{patch.stem}: {recut(patch)}")
        except CatalogError as exc:
            print(f"{patch.stem}: FAILED: {exc}")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
