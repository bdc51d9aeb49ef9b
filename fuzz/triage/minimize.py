"""Minimize a crash with libFuzzer's -minimize_crash, guarding against drift.

libFuzzer keeps "the same bug" while minimizing through ASan's dedup token, which atheris never
prints: under atheris any crash counts, so minimization can slide to a different bug. The work is
done in rounds; after each round the result is replayed and kept only if it still has the
original signature. The smallest input that kept it wins.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .run_once import HarnessCommand, address_space_limit_mb
from .reproduce import reproduce
from .signature import FrameNormalizer, Signature

ROUNDS = 3
CHECK_RUNS = 3


@dataclasses.dataclass(frozen=True)
class Minimized:
    data: bytes
    rounds: int
    drifted: int  # rounds whose result had another signature and was thrown away


def minimize(
    command: HarnessCommand,
    normalizer: FrameNormalizer,
    harness_name: str,
    data: bytes,
    signature: Signature,
    *,
    budget_seconds: float,
    timeout: float,
    rss_limit_mb: int,
    jobs: int,
) -> Minimized:
    best = data
    drifted = rounds = 0
    deadline = time.monotonic() + budget_seconds
    with tempfile.TemporaryDirectory(prefix="triage-minimize-") as tmp:
        work = Path(tmp)
        for round_no in range(ROUNDS):
            remaining = deadline - time.monotonic()
            if remaining < 1 or len(best) <= 1:
                break
            rounds += 1
            source = work / f"round{round_no}.in"
            source.write_bytes(best)
            result = work / f"round{round_no}.out"
            seconds = max(1, int(remaining / (ROUNDS - round_no)))
            _run_libfuzzer_minimize(command, source, result, seconds, timeout, rss_limit_mb)
            if not result.exists() or len(result.read_bytes()) >= len(best):
                break  # libFuzzer found nothing smaller
            check = reproduce(
                command,
                normalizer,
                harness_name,
                result,
                runs=CHECK_RUNS,
                jobs=jobs,
                timeout=timeout,
                rss_limit_mb=rss_limit_mb,
            )
            if check.reproducible and check.signature == signature:
                best = result.read_bytes()
            else:
                drifted += 1
    return Minimized(best, rounds, drifted)


def _run_libfuzzer_minimize(
    command: HarnessCommand, source: Path, result: Path, seconds: int, timeout: float, rss_limit_mb: int
) -> None:
    argv = [
        str(command.executable),
        "-minimize_crash=1",
        f"-max_total_time={seconds}",
        f"-runs={1000 * seconds}",
        f"-timeout={max(1, int(timeout))}",
        f"-exact_artifact_path={result}",
        str(source),
    ]
    as_limit = address_space_limit_mb(rss_limit_mb) << 20

    def limit_memory() -> None:
        # Inherited by the child runs: an allocation past the limit raises MemoryError, which
        # libFuzzer sees as a crash, so out-of-memory inputs minimize too.
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))

    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=command.project_root,
        env=command.environment(),
        preexec_fn=limit_memory,
        start_new_session=True,
    )
    try:
        proc.wait(timeout=seconds + 2 * timeout + 30)
    except subprocess.TimeoutExpired:
        # libFuzzer runs each step as a child through the shell: end the whole group (the
        # leader is not reaped yet, so the group id is still ours). What it wrote is still checked.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
