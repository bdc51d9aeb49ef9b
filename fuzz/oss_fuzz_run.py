"""`python -m fuzz oss-fuzz-run --out OUT --work DIR --time S`: run an OSS-Fuzz build as ClusterFuzz does.

For every fuzz target in OUT (an executable `fuzz_*` without a dot: the wrappers
compile_python_fuzzer writes), from DIR/NAME, a directory outside the repository and with no
PYTHONPATH, so a packaged binary has only its bundle:
1. unzip `fuzz_NAME_seed_corpus.zip` into DIR/NAME/corpus and fuzz it for S seconds with the
   runner limits, the `.options` file's [libfuzzer] flags and the `.dict`;
2. reproduce each crash file it wrote the way ClusterFuzz does: `OUT/fuzz_NAME -runs=100 FILE`.
Prints per target its exit status, its instrumentation line, libFuzzer's INITED line (the seeds
replayed) and each reproduction's exit status and first stack frame. Exit 0 when every target
ran its time without a crash, 1 when one crashed (reproducible or not: each is printed), 2 when
one failed without a crash file (a broken bundle) or nothing could run.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .ci import execute, target_flags, unzip_seeds
from .triage.command import ARTIFACT_PREFIXES

INSTRUMENTATION_LINE = re.compile(r"^INFO: proxyfuzz instrumentation: .*$", re.M)
INITED_LINE = re.compile(r"^#\d+\s+INITED .*$", re.M)


@dataclass
class Reproduction:
    crash: Path
    status: int
    output: str

    @property
    def reproduced(self) -> bool:
        return self.status != 0

    def stack_top(self) -> str:
        """The innermost `File "...", line N, in F` of the Python traceback, or ''."""
        frames = re.findall(r'^\s*File "[^"]+", line \d+, in \S+$', self.output, re.M)
        return frames[-1].strip() if frames else ""


@dataclass
class TargetRun:
    target: str
    status: int
    log: Path
    crashes: list[Path] = field(default_factory=list)
    reproductions: list[Reproduction] = field(default_factory=list)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def instrumentation(self) -> str:
        found = INSTRUMENTATION_LINE.search(self.text())
        return found.group(0) if found else ""

    def inited(self) -> str:
        found = INITED_LINE.search(self.text())
        return found.group(0) if found else ""


def fuzz_targets(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("fuzz_*") if "." not in p.name and p.is_file() and os.access(p, os.X_OK))


def runner_env() -> dict:
    """The environment a ClusterFuzz bot gives a target: nothing that points into a source tree."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def run(argv: list[str], cwd: Path, log: Path, limit: float) -> int:
    status = execute(argv, cwd, runner_env(), log, limit)
    if status is None:
        with open(log, "a") as sink:
            sink.write(f"\noss-fuzz-run: killed after {limit:.0f} s\n")
        return -9
    return status


def run_target(binary: Path, work: Path, seconds: int, reproduce_runs: int = 100) -> TargetRun:
    home = work / binary.name
    corpus, artifacts = home / "corpus", home / "artifacts"
    for folder in (corpus, artifacts):
        folder.mkdir(parents=True, exist_ok=True)
    unzip_seeds(binary.parent, binary.name, corpus)
    argv = [
        str(binary),
        f"-max_total_time={seconds}",
        *target_flags(binary),
        f"-artifact_prefix={artifacts}/",
        str(corpus),
    ]
    result = TargetRun(binary.name, run(argv, home, home / "fuzz.log", seconds + 120), home / "fuzz.log")
    result.crashes = sorted(p for p in artifacts.iterdir() if p.name.startswith(ARTIFACT_PREFIXES))
    for crash in result.crashes:
        result.reproductions.append(reproduce(binary, crash, home, reproduce_runs))
    return result


def reproduce(binary: Path, crash: Path, cwd: Path, runs: int = 100) -> Reproduction:
    """ClusterFuzz's reproduction: the target with -runs=N and the crash file as its only input."""
    log = cwd / f"reproduce-{crash.name}.log"
    argv = [str(binary), f"-runs={runs}", *target_flags(binary), str(crash)]
    status = run(argv, cwd, log, 300)
    return Reproduction(crash, status, log.read_text(errors="replace"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz oss-fuzz-run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the build's $OUT")
    parser.add_argument("--work", type=Path, required=True, help="where each target runs (outside the repository)")
    parser.add_argument("--time", type=int, default=30, help="seconds per target (default: 30)")
    args = parser.parse_args(argv)
    targets = fuzz_targets(args.out)
    if not targets:
        print(f"oss-fuzz-run: error: no fuzz targets in {args.out}", file=sys.stderr)
        return 2
    broken = crashed = 0
    for binary in targets:
        result = run_target(binary, args.work.resolve(), args.time)
        print(
            f"oss-fuzz-run: {result.target}: exit {result.status}, {len(result.crashes)} crash file(s); log {result.log}"
        )
        print(f"  {result.instrumentation() or 'NO instrumentation line'}")
        print(f"  {result.inited() or 'NO INITED line (the seeds were not all replayed)'}")
        for rep in result.reproductions:
            verdict = "reproduces" if rep.reproduced else "does NOT reproduce"
            print(f"  {rep.crash.name}: -runs=100 exit {rep.status}, {verdict}; {rep.stack_top()}")
        crashed += bool(result.crashes)
        broken += result.status != 0 and not result.crashes
    print(f"oss-fuzz-run: {len(targets)} target(s), {crashed} crashed, {broken} failed without a crash file")
    return 2 if broken else 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
