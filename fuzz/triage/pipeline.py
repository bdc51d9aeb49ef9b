"""Triage: artifacts in, deduplicated and minimized reports out.

For each artifact not already in the index: reproduce it N times, take its signature, rate it,
file it under that signature, and give the signature the smallest input that keeps it (minimized
once per signature, never for timeouts). Then every report, index.md and results.sarif are written
again from the index, so a changed known-issues file shows at once.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import shlex
import shutil
import sys
from pathlib import Path

from . import render, sarif
from .index import TriageIndex
from .known import load_known_issues, match_known
from .minimize import minimize
from .run_once import HarnessCommand, describe_input
from .reproduce import Reproduction, reproduce
from .severity import rate
from .signature import Frame, FrameNormalizer, Signature, significant_frames

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UNREPRODUCED = "unreproduced"
OUTPUT_EXCERPT_LINES = 60


@dataclasses.dataclass
class TriageOptions:
    out_dir: Path = PROJECT_ROOT / "reports"
    reproductions: int = 10
    jobs: int = 2
    timeout: float = 10.0
    rss_limit_mb: int = 2560
    minimize: bool = True
    minimize_seconds: float = 30.0
    add_regression: bool = False
    known_issues: Path | None = PROJECT_ROOT / "known-issues.toml"
    project_root: Path = PROJECT_ROOT


@dataclasses.dataclass(frozen=True)
class Artifact:
    path: Path
    harness: Path

    @property
    def harness_name(self) -> str:
        return harness_name(self.harness)


def harness_name(harness: Path) -> str:
    stem = harness.stem
    return stem[len("fuzz_") :] if stem.startswith("fuzz_") else stem


@dataclasses.dataclass(frozen=True)
class Outcome:
    artifact: Artifact
    signature_id: str | None  # None: seen in an earlier run, skipped
    new_signature: bool = False


@dataclasses.dataclass
class TriageResult:
    out_dir: Path
    outcomes: list[Outcome]
    signatures: dict[str, dict]  # every signature in the index, as reported
    regressions_added: list[Path]

    def touched(self) -> list[dict]:
        ids = {o.signature_id for o in self.outcomes if o.signature_id}
        return [self.signatures[i] for i in sorted(ids)]

    def blocking(self) -> list[dict]:
        """Signatures from this run that should fail a CI job: reproducible, not flaky, not known."""
        return [s for s in self.touched() if s["reproducible"] and not s["known"]]


def triage(artifacts: list[Artifact], options: TriageOptions) -> TriageResult:
    root = options.project_root.resolve()
    out_dir = options.out_dir.resolve()
    known = load_known_issues(options.known_issues)
    index = TriageIndex(out_dir / "index.json")
    commands: dict[Path, HarnessCommand] = {}
    outcomes = []
    try:
        for artifact in artifacts:
            data = artifact.path.read_bytes()
            key = index.artifact_key(artifact.harness_name, hashlib.sha1(data).hexdigest())
            if index.seen(key):
                outcomes.append(Outcome(artifact, None))
                continue
            harness = artifact.harness.resolve()
            if harness not in commands:
                commands[harness] = HarnessCommand(harness, root)
            outcome = _triage_one(artifact, data, key, commands[harness], index, options, out_dir)
            outcomes.append(outcome)
            index.save()
    finally:
        for command in commands.values():
            command.close()
    regressions = _add_regressions(outcomes, index, options, out_dir) if options.add_regression else []
    reported = _write_reports(index, known, options, out_dir)
    index.save()
    return TriageResult(out_dir, outcomes, reported, regressions)


def _triage_one(artifact, data, key, command, index, options, out_dir) -> Outcome:
    root = options.project_root.resolve()
    normalizer = FrameNormalizer(root, artifact.harness)
    name = artifact.harness_name
    repro = reproduce(
        command,
        normalizer,
        name,
        artifact.path,
        runs=options.reproductions,
        jobs=options.jobs,
        timeout=options.timeout,
        rss_limit_mb=options.rss_limit_mb,
    )
    sig = repro.signature or Signature(UNREPRODUCED, "", "", (), harness=name)
    record = index.signatures.get(sig.id)
    new = record is None
    if new:
        record = _new_record(sig, repro, normalizer, options)
        index.signatures[sig.id] = record
    record["artifacts"].append(key)
    if name not in record["harnesses"]:
        record["harnesses"].append(name)
        record["harness_paths"][name] = _display_path(artifact.harness, root)
    record["reproducible"] = record["reproducible"] or repro.reproducible
    index.artifacts[key] = {
        "signature": sig.id,
        "path": _display_path(artifact.path, root),
        "harness": name,
        "failed_runs": repro.matching,
        "runs": len(repro.attempts),
        "planned_runs": repro.planned,
        "reproducible": repro.reproducible,
        "first_seen": _now(),
    }
    _offer_input(record, sig, data, artifact, repro, command, normalizer, options, out_dir)
    return Outcome(artifact, sig.id, new)


def _new_record(sig: Signature, repro: Reproduction, normalizer: FrameNormalizer, options) -> dict:
    attempt = repro.representative
    failure = attempt.failure if attempt else None
    frames: list[Frame] = [normalizer.normalize(f) for f in failure.frames] if failure else []
    severity = rate(failure, frames) if failure else None
    record = {
        "id": sig.id,
        "text": sig.text,
        "kind": sig.kind,
        "exception_type": failure.exception_type if failure else "",
        "invariant": sig.invariant,
        "message": failure.message if failure else "the input did not fail in any replay",
        "frames": list(sig.frames),
        "stack": [dataclasses.asdict(f) for f in frames],
        "significant": [f.key for f in significant_frames(frames)],
        "security_marker": failure.security_level if failure else "",
        "severity": {
            "level": severity.level if severity else "low",
            "rule": severity.rule if severity else "other",
            "explanation": severity.explanation if severity else "not reproduced in any replay",
            "score": severity.score if severity else 3.0,
        },
        "first_seen": _now(),
        "harnesses": [],
        "harness_paths": {},
        "artifacts": [],
        "reproducible": False,
        "replay": {
            "planned_runs": repro.planned,
            "runs": len(repro.attempts),
            "failed_runs": repro.matching,
            "timeout_seconds": options.timeout,
            "rss_limit_mb": options.rss_limit_mb,
            "peak_rss_mb": round(max((a.run.peak_rss_mb for a in repro.attempts), default=0.0), 1),
        },
        "output": _excerpt(attempt.run.output) if attempt else "",
        "input": None,
    }
    return record


def _offer_input(record, sig, data, artifact, repro, command, normalizer, options, out_dir) -> None:
    """Give the signature this artifact's input if it is a better reproducer than the one it has:
    any input beats none, a reproducible one beats a flaky one, a smaller one beats a larger one."""
    current = record["input"]
    better = (
        current is None
        or (repro.reproducible and not current["reproducible"])
        or (repro.reproducible == current["reproducible"] and len(data) < current["size"])
    )
    if not better:
        return
    minimized = None
    if repro.reproducible and options.minimize and sig.kind not in ("timeout", UNREPRODUCED) and len(data) > 1:
        minimized = minimize(
            command,
            normalizer,
            artifact.harness_name,
            data,
            sig,
            budget_seconds=options.minimize_seconds,
            timeout=options.timeout,
            rss_limit_mb=options.rss_limit_mb,
            jobs=options.jobs,
        )
    best = minimized.data if minimized and len(minimized.data) < len(data) else data
    folder = out_dir / sig.id
    folder.mkdir(parents=True, exist_ok=True)
    sha1 = hashlib.sha1(best).hexdigest()
    file_name = f"input-{sha1}"
    if current and current["file"] != file_name:
        (folder / current["file"]).unlink(missing_ok=True)
    (folder / file_name).write_bytes(best)
    record["input"] = {
        "file": file_name,
        "sha1": sha1,
        "size": len(best),
        "original_size": len(data),
        "from_artifact": _display_path(artifact.path, options.project_root.resolve()),
        "harness": artifact.harness_name,
        "reproducible": repro.reproducible,
        "minimized": best is not data,
        "minimize_rounds": minimized.rounds if minimized else 0,
        "minimize_drifted_rounds": minimized.drifted if minimized else 0,
        "readable": describe_input(command, folder / file_name, options.timeout),
    }


def _add_regressions(outcomes, index, options, out_dir) -> list[Path]:
    """Copy each reproducible signature's best input into its harness's corpus as crash-<sha1>,
    so the corpus replay in the test suite runs it from then on. Timeouts are left out: replaying
    them would stall the test suite for the whole timeout."""
    added = []
    for sig_id in sorted({o.signature_id for o in outcomes if o.signature_id}):
        record = index.signatures[sig_id]
        chosen = record["input"]
        if not chosen or not record["reproducible"] or record["kind"] in ("timeout", UNREPRODUCED):
            continue
        target = options.project_root.resolve() / "corpus" / chosen["harness"] / f"crash-{chosen['sha1']}"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out_dir / sig_id / chosen["file"], target)
            added.append(target)
    return added


def _write_reports(index: TriageIndex, known, options: TriageOptions, out_dir: Path) -> dict[str, dict]:
    root = options.project_root.resolve()
    reported = {}
    for sig_id, record in sorted(index.signatures.items()):
        issue = match_known(known, sig_id, record["text"])
        view = dict(record)
        view["times_seen"] = len(record["artifacts"])
        view["flaky"] = not record["reproducible"]
        view["known"] = issue is not None
        view["known_reason"] = issue.reason if issue else ""
        view["folder"] = _display_path(out_dir / sig_id, root)
        view["reproduce"] = _reproduce_commands(record, out_dir, options)
        render.write_signature_report(out_dir / sig_id, view)
        reported[sig_id] = view
    out_dir.mkdir(parents=True, exist_ok=True)  # a clean run still gets an (empty) index and SARIF
    render.write_index(out_dir, reported)
    sarif.write_sarif(out_dir / "results.sarif", reported, root)
    return reported


def _reproduce_commands(record: dict, out_dir: Path, options: TriageOptions) -> dict[str, str]:
    root = options.project_root.resolve()
    chosen = record["input"]
    if not chosen:
        return {}
    harness = record["harness_paths"][chosen["harness"]]
    input_path = _display_path(out_dir / record["id"] / chosen["file"], root)
    python = _display_path(Path(sys.executable), root)
    flags = ["-runs=1"]
    if record["kind"] == "timeout":
        flags.append(f"-timeout={int(options.timeout)}")
    replay = f"PYTHONPATH=. {shlex.quote(python)} {shlex.quote(harness)} {' '.join(flags)} {shlex.quote(input_path)}"
    triage_cmd = (
        f"{shlex.quote(python)} -m fuzz triage --harness {shlex.quote(harness)} "
        f"--out /tmp/triage-check {shlex.quote(input_path)}"
    )
    return {"libfuzzer": replay, "triage": triage_cmd}


def _display_path(path: Path, root: Path) -> str:
    """Repo-relative where possible (reports and SARIF must not carry machine paths)."""
    absolute = Path(path).absolute()
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        return absolute.as_posix()


def _excerpt(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.startswith("WARNING: Failed to find function")]
    return "\n".join(lines[-OUTPUT_EXCERPT_LINES:])


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
