"""`python -m fuzz ci --time S` (make ci-fuzz): the OSS-Fuzz-style CI job, run locally.

1. Build: every harnesses/fuzz_<name>.py into out/ in OSS-Fuzz's layout — the harness as the
   executable `fuzz_<name>`, `fuzz_<name>_seed_corpus.zip` (corpus/<name>/ less the seeds
   corpus/<name>.redundant lists: fuzz/startup_seeds.py), `fuzz_<name>.dict`
   (corpus/<name>.dict) and `fuzz_<name>.options` (harnesses/fuzz_<name>.options).
2. Fuzz each for S seconds with ClusterFuzzLite's code-change settings (-seed=1337
   -len_control=0, stop at the first crash) and OSS-Fuzz's runner limits (-timeout=25
   -rss_limit_mb=2560), the options file's [libfuzzer] flags added.
3. Triage the artifacts into out/reports/ (10 replays each, as ClusterFuzzLite does).
4. Exit 1 when a crash is reproducible and not in known-issues.toml, printing its report's path;
   flaky and known ones are printed but do not fail the job. Exit 2 when the job itself cannot run.

`--mode` takes ClusterFuzzLite's run_fuzzers modes, so a CI run can be rehearsed locally:
- code-change (default, PRs): the above; a fresh corpus from the seeds each run.
- batch (scheduled): no fixed seed or length control; the corpus in WORK/corpus/NAME is kept
  between runs (ClusterFuzzLite's corpus storage) and grows; crashes judged as above.
- prune: no fuzzing; each kept corpus (the seeds when there is none yet) is minimized with
  libFuzzer's -merge=1 into a new one that replaces it.
- coverage: `python -m fuzz coverage NAME` over the seeds and the kept corpus, HTML in
  OUT/reports/coverage/NAME/.
"""

from __future__ import annotations

import argparse
import configparser
import os
import shutil
import signal
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

from .startup_seeds import start_set
from .triage.command import ARTIFACT_PREFIXES, print_summary
from .triage.known import KnownIssuesError
from .triage.pipeline import PROJECT_ROOT, Artifact, TriageOptions, harness_name, triage

CODE_CHANGE_FLAGS = ("-seed=1337", "-len_control=0")
MODES = ("code-change", "batch", "prune", "coverage")
RUNNER_LIMITS = {"timeout": "25", "rss_limit_mb": "2560"}


class CIError(Exception):
    pass


def discover_harnesses(root: Path, only: list[str] | None = None) -> list[Path]:
    harnesses = sorted((root / "harnesses").glob("fuzz_*.py"))
    if only:
        wanted = {n if n.startswith("fuzz_") else f"fuzz_{n}" for n in only}
        missing = wanted - {h.stem for h in harnesses}
        if missing:
            raise CIError(f"no such harness: {', '.join(sorted(missing))} (looked in {root / 'harnesses'})")
        harnesses = [h for h in harnesses if h.stem in wanted]
    if not harnesses:
        raise CIError(f"no harnesses/fuzz_*.py in {root}: nothing to fuzz")
    return harnesses


def build(root: Path, out: Path, harnesses: list[Path]) -> None:
    """Lay out out/ as OSS-Fuzz's build.sh would (minus pyinstaller: the script is the binary)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for harness in harnesses:
        target, name = harness.stem, harness_name(harness)
        binary = out / target
        shutil.copyfile(harness, binary)
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        seeds = root / "corpus" / name
        if seeds.is_dir():
            # The start set, as `fuzz run` uses: a short CI run fuzzes instead of replaying
            # thousands of seeds a merge found redundant (make test replays every seed).
            with zipfile.ZipFile(out / f"{target}_seed_corpus.zip", "w", zipfile.ZIP_DEFLATED) as zf:
                for seed in start_set(seeds):
                    zf.write(seed, seed.relative_to(seeds).as_posix())
        for source, dest in (
            (root / "corpus" / f"{name}.dict", out / f"{target}.dict"),
            (harness.with_suffix(".options"), out / f"{target}.options"),
        ):
            if source.is_file():
                shutil.copyfile(source, dest)


def libfuzzer_options(options_file: Path) -> list[str]:
    """The [libfuzzer] section of an OSS-Fuzz .options file, as -key=value flags."""
    if not options_file.is_file():
        return []
    parser = configparser.ConfigParser()
    try:
        parser.read(options_file)
    except configparser.Error as err:
        raise CIError(f"{options_file}: not an OSS-Fuzz options file: {err}") from None
    if not parser.has_section("libfuzzer"):
        return []
    flags = []
    for key, value in parser.items("libfuzzer"):
        if key == "dict":
            value = str((options_file.parent / value).resolve())
        flags.append(f"-{key}={value}")
    return flags


def target_flags(binary: Path) -> list[str]:
    """OSS-Fuzz's runner limits, then the target's .options flags (which win) and its .dict."""
    from_options = libfuzzer_options(binary.with_name(binary.name + ".options"))
    named = {o.split("=")[0] for o in from_options}
    flags = [f"-{k}={v}" for k, v in sorted(RUNNER_LIMITS.items()) if f"-{k}" not in named]
    dictionary = binary.with_name(binary.name + ".dict")
    if dictionary.is_file() and "-dict" not in named:
        flags.append(f"-dict={dictionary}")
    return flags + from_options


def execute(argv: list[str], cwd: Path, env: dict, log: Path, limit: float) -> int | None:
    """Run argv with its output in log; None when it ran past `limit` seconds (then killed)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as sink:
        sink.write((" ".join(argv) + "\n").encode())
        sink.flush()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # not reaped yet: the group is still ours
            proc.wait()
            return None


def unzip_seeds(out: Path, target: str, corpus: Path) -> None:
    seeds = out / f"{target}_seed_corpus.zip"
    if seeds.is_file():
        with zipfile.ZipFile(seeds) as zf:
            zf.extractall(corpus)


def source_env(root: Path) -> dict:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # The copy in out/ imports what pyinstaller would have bundled: the project and the
    # harness's sibling modules.
    paths = [str(root), str(root / "harnesses"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def fuzz_one(
    root: Path, out: Path, work: Path, target: str, seconds: int, mode: str = "code-change"
) -> tuple[int, Path, Path]:
    """Run one fuzzer; returns (exit status, its artifact folder, its log)."""
    name = target[len("fuzz_") :]
    corpus = work / "corpus" / name
    artifacts = work / "artifacts" / name
    shutil.rmtree(artifacts, ignore_errors=True)
    if mode == "code-change":
        shutil.rmtree(corpus, ignore_errors=True)
    for folder in (corpus, artifacts):
        folder.mkdir(parents=True, exist_ok=True)
    unzip_seeds(out, target, corpus)
    mode_flags = CODE_CHANGE_FLAGS if mode == "code-change" else ()
    argv = [
        str(out / target),
        *mode_flags,
        f"-max_total_time={seconds}",
        *target_flags(out / target),
        f"-artifact_prefix={artifacts}/",
        str(corpus),
    ]
    log = work / "logs" / f"{name}.log"
    status = execute(argv, root, source_env(root), log, seconds + 120)
    if status is None:
        raise CIError(f"{target} ran past its time limit and was killed; log: {log}")
    return status, artifacts, log


def prune_one(root: Path, out: Path, work: Path, target: str) -> tuple[int, int]:
    """Minimize the kept corpus (or the seeds) with -merge=1; returns (files before, after)."""
    name = target[len("fuzz_") :]
    corpus, pruned = work / "corpus" / name, work / "corpus" / f"{name}.pruned"
    corpus.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        unzip_seeds(out, target, corpus)
    shutil.rmtree(pruned, ignore_errors=True)
    pruned.mkdir(parents=True)
    log = work / "logs" / f"{name}.prune.log"
    argv = [str(out / target), "-merge=1", *target_flags(out / target), str(pruned), str(corpus)]
    status = execute(argv, root, source_env(root), log, 1800)
    if status != 0:
        raise CIError(f"{target}: -merge=1 failed (exit {status}); log: {log}")
    before = sum(1 for _ in corpus.iterdir())
    shutil.rmtree(corpus)
    pruned.rename(corpus)
    return before, sum(1 for _ in corpus.iterdir())


def run_maintenance(args: argparse.Namespace, root: Path, out: Path, work: Path, harnesses: list[Path]) -> int:
    """prune and coverage: no fuzzing, one line per harness."""
    failed = 0
    for harness in harnesses:
        if args.mode == "prune":
            before, after = prune_one(root, out, work, harness.stem)
            print(f"ci: prune {harness.stem}: {before} -> {after} file(s) in {work / 'corpus' / harness_name(harness)}")
            continue
        argv = [
            sys.executable,
            "-m",
            "fuzz",
            "coverage",
            harness_name(harness),
            "--root",
            str(root),
            "--work",
            str(work),
            "--reports",
            str(out / "reports"),
        ]
        status = execute(argv, root, source_env(root), work / "logs" / f"{harness_name(harness)}.coverage.log", 1800)
        print(f"ci: coverage {harness.stem}: exit {status}; {out / 'reports' / 'coverage' / harness_name(harness)}")
        failed += status != 0
    return 1 if failed else 0


def run(args: argparse.Namespace, root: Path = PROJECT_ROOT) -> int:
    out, work = args.out.resolve(), args.work.resolve()
    harnesses = discover_harnesses(root, args.harness)
    build(root, out, harnesses)
    print(f"ci: built {len(harnesses)} fuzzer(s) into {out}")
    if args.mode in ("prune", "coverage"):
        return run_maintenance(args, root, out, work, harnesses)
    found: list[Artifact] = []
    for harness in harnesses:
        status, artifacts, log = fuzz_one(root, out, work, harness.stem, args.time, args.mode)
        files = sorted(p for p in artifacts.iterdir() if p.name.startswith(ARTIFACT_PREFIXES))
        print(f"ci: {harness.stem}: exit {status}, {len(files)} artifact(s); log {log}")
        if status != 0 and not files:
            raise CIError(f"{harness.stem} failed without a crash file (exit {status}): see {log}")
        found += [Artifact(f, harness) for f in files]
    options = TriageOptions(
        out_dir=out / "reports",
        reproductions=args.reproductions,
        jobs=args.jobs,
        minimize_seconds=args.minimize_time,
        known_issues=root / "known-issues.toml",
        project_root=root,
    )
    result = triage(found, options)
    print_summary(result)
    blocking = result.blocking()
    for view in blocking:
        print(f"ci: NEW REPRODUCIBLE CRASH ({view['severity']['level']}): {out / 'reports' / view['id'] / 'report.md'}")
    if blocking:
        return 1
    print("ci: no new reproducible crash")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fuzz ci", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mode", choices=MODES, default="code-change", help="ClusterFuzzLite's run_fuzzers mode (default: code-change)"
    )
    parser.add_argument("--time", type=int, default=30, help="seconds of fuzzing per harness (default: 30)")
    parser.add_argument("--harness", action="append", help="only this harness (name or fuzz_name); repeatable")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "out", help="build folder (default: out/)")
    parser.add_argument("--work", type=Path, default=PROJECT_ROOT / "work" / "ci", help="corpora, artifacts, logs")
    parser.add_argument("--reproductions", type=int, default=10, help="replays per crash (default: 10)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel replays (default: 2)")
    parser.add_argument("--minimize-time", type=float, default=30.0, help="seconds per new signature")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.time < 1 or args.reproductions < 1 or args.jobs < 1:
        print("ci: error: --time, --reproductions and --jobs must be at least 1", file=sys.stderr)
        return 2
    try:
        return run(args)
    except (CIError, KnownIssuesError) as err:
        print(f"ci: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
