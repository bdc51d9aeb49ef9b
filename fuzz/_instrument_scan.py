"""Reachability of a harness: which modules it imports, and which it actually executes.

Measured in a fresh interpreter (`python -m fuzz._instrument_scan HARNESS POLICY_FILE DIR_OR_FILE...`)
so nothing imported by the engine itself is mistaken for the harness's reach:
  static   - the import closure of the harness file (modulefinder; no code runs)
  loaded   - modules present after importing the harness
  executed - modules with Python code running inside TestOneInput while replaying the inputs
             (sys.setprofile 'call' events; import-time code does not count), with how many
             inputs reached each.
"""

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Big packages whose insides never matter for a policy; skipping them keeps modulefinder fast.
_STATIC_SKIP = ["hypothesis", "google", "numpy", "matplotlib", "coverage", "atheris", "pytest", "_pytest"]


class ScanError(RuntimeError):
    """The harness could not be imported or replayed; the message ends with its last error line."""


@dataclass(frozen=True)
class Reach:
    static: frozenset
    loaded: frozenset
    executed: dict  # module -> number of inputs that ran code in it
    inputs: int


def measure(harness: Path, policy_file: Path, inputs: list[Path], env: dict, cwd: Path,
            timeout_s: int = 600) -> Reach:
    cmd = [sys.executable, "-m", "fuzz._instrument_scan", str(harness), str(policy_file)] + [str(p) for p in inputs]
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ScanError(f"replaying {harness.name} failed: {last}")
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    return Reach(frozenset(doc["static"]), frozenset(doc["loaded"]), doc["executed"], doc["inputs"])


def _static_closure(harness: Path) -> list[str]:
    import modulefinder
    finder = modulefinder.ModuleFinder(excludes=_STATIC_SKIP)
    try:
        finder.run_script(str(harness))
    except (SyntaxError, ImportError) as exc:
        print(f"WARNING: static import closure of {harness} incomplete: {exc}", file=sys.stderr)
    return sorted(finder.modules)


def _child(harness: str, policy_file: str, inputs: list[str]) -> None:
    from fuzz import replay
    module = replay.load_harness(Path(harness), "none", Path(policy_file))
    loaded = sorted(sys.modules)
    counts: dict = {}
    files = replay.expand(p for p in inputs if Path(p).exists())
    for data in [b""] + [f.read_bytes() for f in files]:
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
    print(json.dumps({"static": _static_closure(Path(harness)), "loaded": loaded,
                      "executed": counts, "inputs": len(files) + 1}))


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], sys.argv[3:])
