"""A throw-away repository layout around the test-only demo harness (tests/harnesses/).

Engine tests fuzz, merge and write into it, never into the real corpus/ or work/.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEMO = HERE / "harnesses"

CRASHY = '''#!/usr/bin/env python3
"""Crashes with ValueError on inputs starting with BOOM (a planted bug for engine tests)."""

import sys

import atheris

from fuzz import harness

with harness.instrumented("crashy"):
    import json


@harness.allow(KeyError)
def TestOneInput(data):
    if data[:4] == b"BOOM":
        raise ValueError("planted bug")
    if data[:1] == b"K":
        raise KeyError("allowed")


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
'''


def make_layout(root: Path, crashy: bool = False) -> Path:
    """root/{harnesses,corpus,instrumentation.toml} holding the demo harness (and `crashy`)."""
    (root / "harnesses").mkdir(parents=True)
    for name in ("fuzz_demo.py", "fuzz_demo.options"):
        shutil.copy2(DEMO / name, root / "harnesses" / name)
    shutil.copytree(DEMO / "corpus", root / "corpus")
    shutil.copy2(DEMO / "instrumentation.toml", root / "instrumentation.toml")
    if crashy:
        path = root / "harnesses" / "fuzz_crashy.py"
        path.write_text(CRASHY)
        path.chmod(0o755)
        (root / "corpus" / "crashy").mkdir()
        (root / "corpus" / "crashy" / "seed").write_bytes(b"BOOM!")
    return root


def fuzz(root: Path, *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    """`python -m fuzz COMMAND --root ROOT ARGS` (layout options follow the command name)."""
    command, rest = args[0], list(args[1:])
    if command == "instrumentation":
        rest = [rest[0], "--root", str(root)] + rest[1:]
    else:
        rest = ["--root", str(root)] + rest
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "fuzz", command, *rest],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
