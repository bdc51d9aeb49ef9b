"""Reachability of a harness: which modules it imports, and which it actually executes.

Measured in a fresh interpreter (`python -m fuzz.instrument.scan HARNESS POLICY_FILE DIR_OR_FILE...`)
so nothing imported by the engine itself is mistaken for the harness's reach:
  static   - the import closure of the harness file (read from source; no code runs)
  loaded   - modules present after importing the harness
  executed - modules with Python code running inside TestOneInput while replaying the inputs
             (sys.setprofile 'call' events) in a second pass, after a first untraced pass has
             done the lazy imports and one-time caching; with how many inputs reached each.
"""

import ast
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from fuzz.harness import REPO_ROOT

# Big packages whose insides never matter for a policy; skipping them keeps the closure fast.
_STATIC_SKIP = ["hypothesis", "google", "numpy", "matplotlib", "coverage", "atheris", "pytest", "_pytest"]


class ScanError(RuntimeError):
    """The harness could not be imported or replayed; the message ends with its last error line."""


@dataclass(frozen=True)
class Reach:
    static: frozenset
    loaded: frozenset
    executed: dict  # module -> number of inputs that ran code in it
    inputs: int


def measure(harness: Path, policy_file: Path, inputs: list[Path], env: dict, cwd: Path, timeout_s: int = 600) -> Reach:
    cmd = [sys.executable, "-m", "fuzz.instrument.scan", str(harness), str(policy_file)] + [str(p) for p in inputs]
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ScanError(f"replaying {harness.name} failed: {last}")
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    return Reach(frozenset(doc["static"]), frozenset(doc["loaded"]), doc["executed"], doc["inputs"])


def _locate(name: str):
    """The spec of a module, found without executing any package's __init__."""
    from importlib.machinery import PathFinder

    path, spec = None, None
    parts = name.split(".")
    for i in range(len(parts)):
        spec = PathFinder.find_spec(".".join(parts[: i + 1]), path)
        if spec is None:
            return None
        path = spec.submodule_search_locations
    return spec


def _imports(tree: ast.AST, module: str, is_package: bool):
    """Absolute names a module's import statements may load (including `from pkg import sub`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            if prefix:
                yield prefix
                yield from (f"{prefix}.{alias.name}" for alias in node.names if alias.name != "*")


def _static_closure(harness: Path) -> list[str]:
    """Import closure by reading source (ast), followed through the repository and site-packages
    only: the stdlib never imports project code, so its insides do not matter here."""
    roots = tuple(p + os.sep for p in sys.path if p.endswith("site-packages")) + (str(REPO_ROOT) + os.sep,)
    found, queue = set(), [("__main__", harness, False)]
    while queue:
        module, path, is_package = queue.pop()
        try:
            tree = ast.parse(Path(path).read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        for name in _imports(tree, module, is_package):
            if name in found or name.split(".")[0] in _STATIC_SKIP:
                continue
            spec = _locate(name)
            if spec is None:
                continue
            found.add(name)
            parent = name.rpartition(".")[0]
            while parent and parent not in found:  # importing a.b.c imports a and a.b
                found.add(parent)
                pspec = _locate(parent)
                if pspec and pspec.origin and pspec.origin.endswith(".py") and pspec.origin.startswith(roots):
                    queue.append((parent, pspec.origin, True))
                parent = parent.rpartition(".")[0]
            if spec.origin and spec.origin.endswith(".py") and spec.origin.startswith(roots):
                queue.append((name, spec.origin, spec.submodule_search_locations is not None))
    return sorted(found)


def _child(harness: str, policy_file: str, inputs: list[str]) -> None:
    from fuzz import replay

    module = replay.load_harness(Path(harness), "none", Path(policy_file))
    loaded = sorted(sys.modules)
    counts: dict = {}
    files = replay.expand(p for p in inputs if Path(p).exists())
    datas = [b""] + [f.read_bytes() for f in files]
    # Warm-up pass, untraced: lazy imports and caches filled by the first input are one-time
    # work, not code an input steers, so they must not count as reached.
    for data in datas:
        try:
            module.TestOneInput(data)
        except Exception:
            pass
    from fuzz.memo import forget_verdicts

    for data in datas:
        forget_verdicts()  # a verdict remembered from the warm-up would hide the code that judges this input
        seen = set()

        def profile(frame, event, arg):
            if event == "call":
                seen.add(frame.f_globals.get("__name__", "?"))

        sys.setprofile(profile)
        try:
            module.TestOneInput(data)
        except Exception:  # a crashing input still shows what it reached
            pass
        finally:
            sys.setprofile(None)
        for name in seen:
            counts[name] = counts.get(name, 0) + 1
    print(
        json.dumps(
            {"static": _static_closure(Path(harness)), "loaded": loaded, "executed": counts, "inputs": len(files) + 1}
        )
    )


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], sys.argv[3:])
