"""One trial: fuzz one harness of a patched copy for at most S seconds and decide whether it
detected the planted bug.

A crash counts as the bug's detection when its input crashes the patched copy and does NOT
crash the same harness on an unpatched copy (the crash goes away with the patch reverted).
That is the ground truth for oracle findings too, whose tracebacks end in fuzz/oracles.py
rather than in the patched function. Whether a traceback frame lies in a patched function is
reported beside it ("in patched function" vs "revert-confirmed"). A crash the unpatched copy shares is a pre-existing
bug, not this one: the trial records it, sets the input aside and fuzzes on for the time left.

Time to detection is wall-clock seconds from the start of the harness process (startup and
seed replay included, as a user waits for them) to libFuzzer's crash report, summed over
restarts; the execution count at the crash is kept too.

Phase of a detection: libFuzzer first runs its initial corpus (the working corpus folder, then
the seed folder; with an empty corpus, the one empty input) and only then prints the
`#N INITED` status line and starts mutating. A crash before INITED is a seed-replay detection
(an input the fuzzer was handed), one after it a mutation detection (an input the fuzzer made).
The execution count is no signal: libFuzzer prints `pulse` lines during replay and none at all
before a crash on an early seed. On a restart after a pre-existing crash the replayed working
corpus also holds inputs the earlier mutation made, so a crash there is "replay after restart".
"""

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fuzz import runner
from fuzz.harness import HarnessError, Layout, corpus_files, spec_for
from fuzz.triage.classify import classify
from fuzz.triage.run_once import RunResult as ReplayResult
from fuzz.triage.signature import FrameNormalizer, signature_of

MIN_RUN_S = 3  # no restart with less time left than this
MAX_RESTARTS = 20  # pre-existing crashes tolerated per trial
REPLAY_TIMEOUT_S = 120
SEED_REPLAY, MUTATION, RESTART_REPLAY = "seed replay", "mutation", "replay after restart"
_INITED = re.compile(r"^#\d+\s+INITED\b")
_CRASH_MARKERS = ("=== Uncaught Python exception", "ERROR: libFuzzer", "==ERROR:", "ERROR: AddressSanitizer")
REACH_SCRIPT = Path(__file__).with_name("reach.py")


@dataclass(frozen=True)
class Target:
    """Where a harness lives in a copy: harness folder, seed corpus folder, and its name."""

    name: str
    harnesses: str = "harnesses"  # relative to the copy's root
    corpus: Path | None = None  # absolute seed folder root (default: the copy's corpus/)

    def layout(self, tree: Path, work: Path) -> Layout:
        return Layout(
            root=tree,
            harnesses=tree / self.harnesses,
            corpus=self.corpus or tree / "corpus",
            work=work,
            reports=work / "reports",
            policy_file=tree / "instrumentation.toml",
        )


@dataclass
class Crash:
    artifact: str
    seconds: float
    executions: int
    signature: str
    in_patched_function: bool
    on_unpatched: bool
    phase: str = ""


@dataclass
class TrialResult:
    bug: str
    harness: str
    trial: int
    seeds: list = field(default_factory=list)
    detected: bool = False
    seconds: float | None = None  # time to detection
    executions: int | None = None  # executions at detection (this process)
    how: str = ""  # "in patched function" | "revert-confirmed"
    phase: str = ""  # SEED_REPLAY | MUTATION | RESTART_REPLAY
    signature: str = ""
    unrelated: list = field(default_factory=list)  # Crash records shared with the unpatched copy
    reached: bool | None = None
    reached_by: str | None = None
    total_executions: int = 0
    wall: float = 0.0
    error: str = ""


class PhaseTracker:
    """Fed libFuzzer's output line by line: which phase was it in at the first crash report?"""

    def __init__(self, restart: int = 0):
        self.restart, self.inited = restart, False
        self.phase: str | None = None  # SEED_REPLAY, MUTATION or RESTART_REPLAY

    def feed(self, line: str) -> bool:
        """True on the first crash line (then .phase is set)."""
        if self.phase is not None:
            return False
        if _INITED.match(line):
            self.inited = True
        elif any(m in line for m in _CRASH_MARKERS):
            self.phase = MUTATION if self.inited else (SEED_REPLAY if self.restart == 0 else RESTART_REPLAY)
            return True
        return False


def phase_of_log(text: str, restart: int = 0) -> str | None:
    """The phase of the first crash in a libFuzzer log, or None when it reports no crash."""
    tracker = PhaseTracker(restart)
    for line in text.splitlines():
        if tracker.feed(line):
            break
    return tracker.phase


def _failure_of(log_text: str, returncode: int):
    result = ReplayResult(
        returncode=returncode, stdout=log_text, stderr=log_text, wall_seconds=0.0, peak_rss_mb=0.0, killed_for=None
    )
    return classify(result, rss_limit_mb=1 << 30)


def crashes_on(tree: Path, target: Target, artifact: Path, work: Path) -> bool:
    """Does `artifact` crash `target`'s harness in `tree`? One replay in a fresh process."""
    layout = target.layout(tree, work)
    harness = layout.harnesses / f"fuzz_{target.name}.py"
    cmd = [str(harness), str(artifact), "-timeout=25", "-rss_limit_mb=2560"]
    try:
        proc = subprocess.run(
            cmd, env=runner.child_env(layout), cwd=tree, capture_output=True, timeout=REPLAY_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return True
    return proc.returncode != 0


def _in_patched(failure, tree: Path, functions: set) -> bool:
    root = os.path.realpath(tree)
    for frame in failure.frames:
        path = os.path.realpath(frame.file)
        if path.startswith(root + os.sep) and (os.path.relpath(path, root), frame.function) in functions:
            return True
    return False


def _set_aside(artifact: Path, folders: list) -> None:
    """A pre-existing crash found in a seed would end every restart at once: drop that seed."""
    data = artifact.read_bytes()
    for folder in folders:
        for f in corpus_files(folder):
            if f.stat().st_size == len(data) and f.read_bytes() == data:
                f.unlink()


def run_trial(
    bug_name: str,
    tree: Path,
    pristine: Path,
    target: Target,
    time_s: int,
    seed: int,
    trial: int,
    work: Path,
    functions: set,
    lines: dict,
) -> TrialResult:
    layout = target.layout(tree, work)
    out = TrialResult(bug=bug_name, harness=target.name, trial=trial)
    try:
        spec = spec_for(layout, layout.harnesses / f"fuzz_{target.name}.py")
        if not spec.path.is_file():
            raise HarnessError(f"no harness {spec.path}")
    except HarnessError as exc:
        out.error = str(exc)
        return out
    spent = 0.0
    for restart in range(MAX_RESTARTS + 1):
        remaining = time_s - spent
        if remaining < (1 if restart == 0 else MIN_RUN_S):
            break
        run_seed = seed + 1000 * restart
        out.seeds.append(run_seed)
        mark: dict = {}
        start = time.monotonic()
        tracker = PhaseTracker(restart)

        def on_line(line, progress, status, mark=mark, start=start, tracker=tracker):
            if tracker.feed(line):
                mark["t"], mark["execs"] = time.monotonic() - start, progress.executions

        try:
            result = runner.run(
                spec, layout, time_s=max(1, int(remaining)), extra=[f"-seed={run_seed}"], on_line=on_line
            )
        except HarnessError as exc:
            out.error = str(exc)
            break
        out.total_executions += result.progress.executions
        wall = time.monotonic() - start
        if not result.artifacts:
            spent += wall
            if result.returncode != 0 and not result.progress.saw_status_line:
                out.error = f"{target.name} exited with status {result.returncode} without fuzzing (log {result.log})"
            break
        assert result.log is not None, "runner.run always logs"
        log_text = Path(result.log).read_text(encoding="utf-8", errors="replace")
        failure = _failure_of(log_text, result.returncode)
        sig = signature_of(failure, FrameNormalizer(tree, spec.path), target.name).text
        artifact = Path(result.artifacts[0])
        crash = Crash(
            artifact=str(artifact),
            seconds=spent + mark.get("t", wall),
            executions=mark.get("execs", result.progress.executions),
            signature=sig,
            in_patched_function=_in_patched(failure, tree, functions),
            on_unpatched=crashes_on(pristine, target, artifact, work / "replay"),
            phase=tracker.phase or phase_of_log(log_text, restart) or "",
        )
        spent += wall
        if not crash.on_unpatched:
            out.detected, out.seconds, out.executions = True, crash.seconds, crash.executions
            out.how = "in patched function" if crash.in_patched_function else "revert-confirmed"
            out.phase = crash.phase
            out.signature = sig
            break
        out.unrelated.append(crash)
        _set_aside(artifact, [spec.seeds, layout.work_corpus(target.name)])
    out.wall = spent
    if not out.error:
        out.reached, out.reached_by = reached(tree, target, work, lines, layout, spec)
    return out


def reached(tree: Path, target: Target, work: Path, lines: dict, layout: Layout, spec) -> tuple:
    """(reached?, the first input that did): crash files first, then the trial's corpus, then seeds."""
    inputs = (
        corpus_files(layout.artifacts(target.name)) + corpus_files(layout.work_corpus(target.name)) + spec.seed_files()
    )
    request = {"lines": {str(tree / f): n for f, n in lines.items()}, "inputs": [str(p) for p in inputs]}
    req_file = work / "reach-request.json"
    req_file.write_text(json.dumps(request))
    cmd = [sys.executable, str(REACH_SCRIPT), str(spec.path), str(layout.policy_file), str(req_file)]
    try:
        proc = subprocess.run(
            cmd, env=runner.child_env(layout, "none"), cwd=tree, capture_output=True, text=True, timeout=600
        )
        answer = json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, IndexError, json.JSONDecodeError):
        return None, None
    return answer["reached"], answer["by"]
