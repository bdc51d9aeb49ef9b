"""Crash signatures: what makes two failures "the same bug".

signature = kind + exception type (+ the invariant's name) + where: for a broken invariant, the proxy
component the oracle judged (fuzz/blame.py), else the 3 innermost frames that belong to
the project, each as `repo/relative/path.py:function` (no line numbers: an unrelated edit above a
function must not split a bug in two). Frames that are not the project's are left out: the harness
script, the fuzzing engine (`fuzz/`, `harnesses/`), atheris, the standard library and installed
packages. When no project frame is on the stack (a harness over a third-party library, a bug in
the harness itself) the 3 innermost frames of any origin but atheris and the interpreter stand in.
ClusterFuzz keys Python crashes on function names alone and so merges different exception types
raised in the same place; the type is kept here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sysconfig
from pathlib import Path

from .classify import Failure, RawFrame

TOP_FRAMES = 3
# Folders of the repository that drive the code under test rather than being it.
INFRASTRUCTURE_DIRS = ("fuzz", "harnesses")
_STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()


@dataclasses.dataclass(frozen=True)
class Frame:
    path: str  # repo-relative for project files, else a stable short form
    function: str
    line: int
    origin: str  # project | infrastructure | harness | external | stdlib | atheris | interpreter

    @property
    def key(self) -> str:
        return f"{self.path}:{self.function}"


@dataclasses.dataclass(frozen=True)
class Signature:
    kind: str
    exception_type: str
    invariant: str
    frames: tuple[str, ...]  # keys of the frames that identify the bug, innermost first
    harness: str = ""  # only when no frame at all could be used

    @property
    def text(self) -> str:
        detail = self.exception_type + (f"[{self.invariant}]" if self.invariant else "")
        where = " < ".join(self.frames) if self.frames else f"<no stack in {self.harness}>"
        return f"{self.kind}|{detail}|{where}"

    @property
    def id(self) -> str:
        return hashlib.sha1(self.text.encode()).hexdigest()[:12]


class FrameNormalizer:
    def __init__(self, project_root: Path, harness: Path):
        self.root = project_root.resolve()
        self.harness = harness.resolve()

    def normalize(self, raw: RawFrame) -> Frame:
        path, origin = self._place(raw.file)
        return Frame(path=path, function=raw.function, line=raw.line, origin=origin)

    def _place(self, file: str) -> tuple[str, str]:
        if file.startswith("<"):
            return file, "interpreter"  # <frozen runpy>, <string>
        path = Path(os.path.normpath(file))
        if not path.is_absolute():
            path = Path(os.path.normpath(self.root / path))
        parts = path.parts
        for marker in ("site-packages", "dist-packages"):
            if marker in parts:
                inside = Path(*parts[parts.index(marker) + 1 :]).as_posix()
                return inside, "atheris" if inside.startswith("atheris/") else "external"
        if path == self.harness:
            return self._relative(path), "harness"
        if _inside(path, self.root):
            rel = path.relative_to(self.root)
            origin = "infrastructure" if rel.parts[0] in INFRASTRUCTURE_DIRS else "project"
            return rel.as_posix(), origin
        if _inside(path, _STDLIB):
            return "stdlib/" + path.relative_to(_STDLIB).as_posix(), "stdlib"
        if "triage-launcher-" in file:
            return path.name, "interpreter"
        return path.as_posix(), "external"

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() if _inside(path, self.root) else path.as_posix()


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def significant_frames(frames: list[Frame]) -> list[Frame]:
    """The frames that name the bug: project frames, else the innermost usable ones."""
    project = [f for f in frames if f.origin == "project"]
    if project:
        return project[:TOP_FRAMES]
    # The harness's module-level frame shows up in faulthandler dumps but not in atheris's
    # tracebacks; leaving it out keeps both views of one bug identical.
    usable = [
        f
        for f in frames
        if f.origin not in ("atheris", "interpreter") and not (f.origin == "harness" and f.function == "<module>")
    ]
    return usable[:TOP_FRAMES]


def signature_of(failure: Failure, normalizer: FrameNormalizer, harness_name: str) -> Signature:
    frames = [normalizer.normalize(f) for f in failure.frames]
    keys = tuple(f.key for f in significant_frames(frames))
    # An out-of-memory run is seen either as MemoryError (address-space limit) or as a process
    # the supervisor aborted: both are the same bug, so the exception type is not part of it.
    exception_type = "" if failure.kind in ("oom", "timeout") else failure.exception_type
    if failure.kind == "invariant" and failure.component:
        # An oracle's finding is about the proxy component it judged, not the oracle's own frames.
        keys = (failure.component,)
    return Signature(
        kind=failure.kind,
        exception_type=exception_type,
        invariant=failure.invariant,
        frames=keys,
        harness="" if keys else harness_name,
    )
