"""The planted-bug catalog: `NAME.patch` (a unified diff against the repository root, applied
with `patch -p1`) plus `NAME.md` beside it.

The .md is short prose with these sections (`## Title`, any order):
  What        the bug, in one paragraph
  Where       file and function
  Oracle      which oracle (or built-in check) should catch it
  Harnesses   bullet list of harness names expected to find it (run by default)
  Unit tests  bullet list of test files to run against the patched copy, or `- none`
and it must say plainly that the bug is synthetic (the word "synthetic" anywhere).

Beside them, `repro/NAME.py` shows the bug's wrong external behaviour: run from a tree's root as
`python bench/bugs/repro/NAME.py`, it exits 0 (`ok: ...`) on a clean tree and 1 with one line
(`FAIL: ...`) on a tree with the patch applied (2: it could not run). The repository's own catalog
refuses a bug without one (`require_repro`); a catalog kept elsewhere (`--bugs DIR`) may have none.
"""

import re
from dataclasses import dataclass
from pathlib import Path

REQUIRED_SECTIONS = ("What", "Where", "Oracle", "Harnesses", "Unit tests")
REPRO_DIR = "repro"
_SECTION = re.compile(r"^##\s+(?P<title>.+?)\s*$", re.M)
_HUNK = re.compile(r"^@@ -(?P<old>\d+)(?:,\d+)? \+(?P<new>\d+)(?:,\d+)? @@")


class CatalogError(ValueError):
    """A bug's files are missing or malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Bug:
    name: str
    patch: Path
    md: Path
    title: str
    harnesses: tuple[str, ...]
    tests: tuple[str, ...]
    oracle: str
    lines: dict  # repo-relative file -> sorted new-file line numbers the patch touches
    repro: Path | None = None  # repro/NAME.py beside the patch, when there is one

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(sorted(self.lines))


def sections(text: str) -> dict[str, str]:
    """`## Title` -> the text below it, up to the next `## `."""
    found = list(_SECTION.finditer(text))
    out = {}
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        out[m["title"]] = text[m.end() : end].strip()
    return out


def bullets(body: str) -> tuple[str, ...]:
    """First word of every `- item` line, without backticks; `- none` gives ()."""
    items = []
    for line in body.splitlines():
        line = line.strip()
        if line.startswith(("- ", "* ")):
            word = line[2:].strip().split()[0].strip("`") if line[2:].strip() else ""
            if word and word.lower() != "none":
                items.append(word)
    return tuple(items)


def check_md(path: Path) -> list[str]:
    """What is wrong with a bug's .md (empty when it is fine)."""
    text = path.read_text(encoding="utf-8")
    found = sections(text)
    problems = [f"{path}: missing section '## {s}'" for s in REQUIRED_SECTIONS if s not in found]
    problems += [f"{path}: section '## {s}' is empty" for s in REQUIRED_SECTIONS if s in found and not found[s]]
    if "Harnesses" in found and found["Harnesses"] and not bullets(found["Harnesses"]):
        problems.append(f"{path}: '## Harnesses' lists no harness as '- name'")
    if "synthetic" not in text.lower():
        problems.append(f"{path}: does not say that the bug is synthetic")
    if not text.lstrip().startswith("# "):
        problems.append(f"{path}: first line must be '# <title>'")
    return problems


def patched_lines(patch_text: str, source: str = "patch") -> dict[str, list[int]]:
    """File -> new-file line numbers the diff adds. Lines only deleted contribute the lines
    around the deletion (the code that now runs where the removed lines used to)."""
    lines: dict[str, set] = {}
    current, new_no, deleted = None, 0, False

    def end_deletion():
        if deleted and current is not None:
            lines[current].update(n for n in (new_no - 1, new_no) if n > 0)

    for raw in patch_text.splitlines():
        if raw.startswith("+++ "):
            end_deletion()
            target = raw[4:].split("\t")[0].strip()
            current = None if target == "/dev/null" else (target[2:] if target.startswith("b/") else target)
            if current is not None:
                lines.setdefault(current, set())
            deleted = False
        elif raw.startswith("--- "):
            continue
        elif m := _HUNK.match(raw):
            end_deletion()
            new_no, deleted = int(m["new"]), False
        elif current is None:
            continue
        elif raw.startswith("+"):
            lines[current].add(new_no)
            new_no, deleted = new_no + 1, False
        elif raw.startswith("-"):
            deleted = True
        elif raw.startswith(" ") or raw == "":
            end_deletion()
            new_no, deleted = new_no + 1, False
    end_deletion()
    if not lines:
        raise CatalogError(f"{source}: not a unified diff (no '+++ b/FILE' header)")
    return {f: sorted(n) for f, n in lines.items()}


def repro_for(patch: Path) -> Path:
    """Where the bug's repro script lives: repro/NAME.py beside NAME.patch."""
    return patch.parent / REPRO_DIR / f"{patch.stem}.py"


def load_bug(patch: Path, require_repro: bool = False) -> Bug:
    md = patch.with_suffix(".md")
    if not md.is_file():
        raise CatalogError(f"{patch}: no description {md.name} beside it")
    repro = repro_for(patch)
    if require_repro and not repro.is_file():
        raise CatalogError(
            f"{patch}: no repro script {REPRO_DIR}/{repro.name} beside it (a script that "
            "shows the wrong external behaviour: exit 0 on a clean tree, 1 on the patched one)"
        )
    problems = check_md(md)
    if problems:
        raise CatalogError("; ".join(problems))
    text = md.read_text(encoding="utf-8")
    found = sections(text)
    title = text.lstrip().splitlines()[0][2:].strip()
    return Bug(
        name=patch.stem,
        patch=patch,
        md=md,
        title=title,
        harnesses=bullets(found["Harnesses"]),
        tests=bullets(found["Unit tests"]),
        oracle=" ".join(found["Oracle"].split()),
        lines=patched_lines(patch.read_text(encoding="utf-8"), str(patch)),
        repro=repro if repro.is_file() else None,
    )


def load_bugs(directory: Path, only: list[str] | None = None, require_repro: bool = False) -> list[Bug]:
    directory = Path(directory)
    if not directory.is_dir():
        raise CatalogError(f"--bugs {directory}: not a directory")
    patches = sorted(directory.glob("*.patch"))
    if not patches:
        raise CatalogError(f"--bugs {directory}: no *.patch files")
    if only:
        known = {p.stem for p in patches}
        missing = [n for n in only if n not in known]
        if missing:
            raise CatalogError(f"--bug {', '.join(missing)}: not in {directory} (bugs: {', '.join(sorted(known))})")
        patches = [p for p in patches if p.stem in only]
    return [load_bug(p, require_repro) for p in patches]
