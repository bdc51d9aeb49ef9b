"""`python -m fuzz triage [--harness PATH] [--out DIR] [--add-regression] [ARTIFACT...]`

Without ARTIFACT, triages everything the engine left in work/artifacts/<harness-name>/
(crash-*, timeout-*, oom-*), each with harnesses/fuzz_<harness-name>.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .index import TriageIndexError
from .known import KnownIssuesError
from .pipeline import PROJECT_ROOT, Artifact, TriageOptions, TriageResult, triage

ARTIFACT_PREFIXES = ("crash-", "timeout-", "oom-")


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fuzz triage",
        description="Reproduce, classify, deduplicate and minimize crash files; write reports.",
    )
    parser.add_argument(
        "artifacts",
        nargs="*",
        type=Path,
        metavar="ARTIFACT",
        help="crash/timeout/oom files (default: work/artifacts/*/)",
    )
    parser.add_argument("--harness", type=Path, help="the atheris harness script the artifacts belong to")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "reports", help="output folder (default: reports/)")
    parser.add_argument(
        "--add-regression", action="store_true", help="copy minimized inputs into corpus/<harness>/crash-<sha1>"
    )
    parser.add_argument(
        "--reproductions",
        "-n",
        type=_positive_int,
        default=10,
        help="fresh-process replays per artifact; reproducible at >= half (default: 10)",
    )
    parser.add_argument("--jobs", "-j", type=_positive_int, default=2, help="replays in parallel (default: 2)")
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=10.0,
        help="per-replay timeout in seconds, given to libFuzzer (default: 10)",
    )
    parser.add_argument(
        "--rss-limit-mb",
        type=_positive_int,
        default=2560,
        help="memory limit measured by triage itself (default: 2560, as OSS-Fuzz)",
    )
    parser.add_argument(
        "--minimize-time",
        type=_positive_float,
        default=30.0,
        help="seconds of minimization per new signature (default: 30)",
    )
    parser.add_argument("--no-minimize", action="store_true", help="keep inputs as they are")
    parser.add_argument(
        "--known-issues",
        type=Path,
        default=PROJECT_ROOT / "known-issues.toml",
        help="known-issues file (default: known-issues.toml)",
    )
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


def collect_artifacts(paths: list[Path], harness: Path | None, root: Path = PROJECT_ROOT) -> list[Artifact]:
    if harness is not None and not harness.is_file():
        raise UsageError(f"harness not found: {harness}")
    if not paths:
        return _engine_artifacts(root / "work" / "artifacts", harness, root)
    artifacts = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.name.startswith(ARTIFACT_PREFIXES))
        elif path.is_file():
            files = [path]
        else:
            raise UsageError(f"artifact not found: {path}")
        for file in files:
            artifacts.append(Artifact(file, harness or _harness_for(file, root)))
    return artifacts


def _engine_artifacts(folder: Path, harness: Path | None, root: Path) -> list[Artifact]:
    artifacts: list[Artifact] = []
    if not folder.is_dir():
        return artifacts
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        for file in sorted(sub.iterdir()):
            if file.is_file() and file.name.startswith(ARTIFACT_PREFIXES):
                artifacts.append(Artifact(file, harness or _harness_for(file, root)))
    return artifacts


def _harness_for(artifact: Path, root: Path) -> Path:
    """work/artifacts/<name>/crash-... belongs to harnesses/fuzz_<name>.py."""
    name = artifact.resolve().parent.name
    candidate = root / "harnesses" / f"fuzz_{name}.py"
    if candidate.is_file():
        return candidate
    raise UsageError(
        f"cannot tell which harness {artifact} belongs to ({candidate} does not exist): pass --harness PATH"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        artifacts = collect_artifacts(args.artifacts, args.harness)
        if not artifacts:
            print("triage: no artifacts (nothing in work/artifacts/*/ and none named); nothing written")
            return 0
        options = TriageOptions(
            out_dir=args.out,
            reproductions=args.reproductions,
            jobs=args.jobs,
            timeout=args.timeout,
            rss_limit_mb=args.rss_limit_mb,
            minimize=not args.no_minimize,
            minimize_seconds=args.minimize_time,
            add_regression=args.add_regression,
            known_issues=args.known_issues,
        )
        result = triage(artifacts, options)
    except (UsageError, KnownIssuesError, TriageIndexError, FileNotFoundError) as err:
        print(f"triage: error: {err}", file=sys.stderr)
        return 2
    print_summary(result)
    return 0


def print_summary(result: TriageResult) -> None:
    skipped = sum(1 for o in result.outcomes if o.signature_id is None)
    new = sum(1 for o in result.outcomes if o.new_signature)
    print(
        f"triage: {len(result.outcomes)} artifact(s): {len(result.outcomes) - skipped} reproduced, "
        f"{skipped} already in the index; {new} new signature(s); "
        f"{len(result.signatures)} signature(s) in {result.out_dir}"
    )
    for view in result.touched():
        state = "reproducible" if view["reproducible"] else "flaky"
        known = ", known" if view["known"] else ""
        print(
            f"  {view['severity']['level']:<6} {state}{known}: {view['text']}  -> {result.out_dir / view['id'] / 'report.md'}"
        )
    for path in result.regressions_added:
        print(f"  regression input added: {path}")
