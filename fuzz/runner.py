"""Running harnesses under libFuzzer: run, merge, fuzz-all, and reading libFuzzer's output.

libFuzzer's -fork, -jobs and -merge re-execute argv[0], so a harness is always started as its
own executable path (`/abs/harnesses/fuzz_x.py`). Its `#!/usr/bin/env python3` line must find
the venv's Python: the child environment puts the running interpreter's bin/ first on PATH, and
the repository root on PYTHONPATH so `import fuzz` / `import proxy` work from harnesses/.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fuzz.cache_dir import cache_root
from fuzz.campaign import Campaign, Samples, tee
from fuzz.startup_seeds import KEPT_PREFIX, digest, listing, startup_folder
from fuzz.harness import POLICY_ENV, POLICY_FILE_ENV, REPO_ROOT, HarnessError, HarnessSpec, Layout, corpus_files
from fuzz.mutators import MODES, MUTATOR_ENV, STATS_ENV, read_stats, shares_line

# Seconds allowed beyond -max_total_time for startup (policy `all` instruments thousands of
# functions) and for libFuzzer to write its final report.
STARTUP_GRACE = 180

_PULSE = re.compile(
    r"^#(?P<execs>\d+)\s+(?P<kind>INITED|NEW|REDUCE|pulse|DONE|RELOAD)\s+"
    r"(?:cov: (?P<cov>\d+)\s+)?(?:ft: (?P<ft>\d+)\s+)?(?:corp: (?P<corp>\d+)/\S+\s+)?.*?"
    r"(?:exec/s: (?P<eps>\d+))?"
)
# Fork mode: "#12345: cov: 100 ft: 200 corp: 50 exec/s 1000 oom/timeout/crash: 0/0/1 time: 5s ..."
_FORK = re.compile(
    r"^#(?P<execs>\d+): cov: (?P<cov>\d+) ft: (?P<ft>\d+) corp: (?P<corp>\d+) exec/s:? (?P<eps>\d+) "
    r"oom/timeout/crash: (?P<oom>\d+)/(?P<timeout>\d+)/(?P<crash>\d+)"
)
_STAT = re.compile(r"^stat::(?P<key>\w+):\s+(?P<value>\d+)")
_ARTIFACT = re.compile(r"Test unit written to (?P<path>\S+)")
_EPS = re.compile(r"exec/s: (\d+)")


@dataclass
class Progress:
    """What libFuzzer has said so far; updated line by line."""

    executions: int = 0
    exec_per_sec: int = 0
    cov: int = 0
    ft: int = 0
    corpus: int = 0
    crashes: int = 0
    artifacts: list = field(default_factory=list)
    final_stats: dict = field(default_factory=dict)
    saw_status_line: bool = False

    def feed(self, line: str) -> bool:
        """Parse one output line; True when it carried a status update."""
        line = line.rstrip("\n")
        if m := _FORK.match(line):
            self.executions, self.cov, self.ft = int(m["execs"]), int(m["cov"]), int(m["ft"])
            self.corpus, self.exec_per_sec = int(m["corp"]), int(m["eps"])
            self.crashes = max(self.crashes, int(m["oom"]) + int(m["timeout"]) + int(m["crash"]))
            self.saw_status_line = True
            return True
        if m := _PULSE.match(line):
            self.executions = int(m["execs"])
            for attr, key in (("cov", "cov"), ("ft", "ft"), ("corpus", "corp")):
                if m[key] is not None:
                    setattr(self, attr, int(m[key]))
            if eps := _EPS.search(line):
                self.exec_per_sec = int(eps.group(1))
            self.saw_status_line = True
            return True
        if m := _STAT.match(line):
            self.final_stats[m["key"]] = int(m["value"])
            if m["key"] == "number_of_executed_units":
                self.executions = max(self.executions, int(m["value"]))
            elif m["key"] == "average_exec_per_sec":
                self.exec_per_sec = int(m["value"])
            return False
        if m := _ARTIFACT.search(line):
            if m["path"] not in self.artifacts:
                self.artifacts.append(m["path"])
                self.crashes = max(self.crashes, len(self.artifacts))
        return False


@dataclass
class RunResult:
    name: str
    returncode: int
    elapsed: float
    progress: Progress
    artifacts: list  # crash/timeout/oom files in the artifacts folder written by this run
    corpus_size: int  # files in the working corpus afterwards
    log: Path | None
    timed_out: bool = False
    mutations: dict = field(default_factory=dict)  # mutation kind -> count (custom mutators only)

    @property
    def exec_per_sec(self) -> float:
        p = self.progress
        if p.exec_per_sec:
            return float(p.exec_per_sec)
        return p.executions / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        p = self.progress
        lines = [
            f"== {self.name}: {p.executions} executions in {self.elapsed:.1f} s "
            f"({self.exec_per_sec:.0f} exec/s), cov: {p.cov} ft: {p.ft}, "
            f"working corpus: {self.corpus_size} files, crashes: {len(self.artifacts)}"
        ]
        if self.mutations:
            lines.append(f"   {shares_line(self.mutations)}")
        lines += [f"   crash file: {a}" for a in self.artifacts]
        if self.timed_out:
            lines.append("   the run overran its time limit and was stopped")
        elif self.returncode not in (0,) and not self.artifacts:
            lines.append(f"   libFuzzer exited with status {self.returncode} (see {self.log})")
        return "\n".join(lines)


HYPOTHESIS_STORAGE_ENV = "HYPOTHESIS_STORAGE_DIRECTORY"


def child_env(layout: Layout, policy: str | None = None) -> dict:
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    # The layout's root (its proxy/ and harness imports) and the engine's own checkout (fuzz/).
    paths = [str(layout.root), str(REPO_ROOT)] + env.get("PYTHONPATH", "").split(os.pathsep)
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
    env[POLICY_FILE_ENV] = str(layout.policy_file)
    # Hypothesis's Unicode tables, built once per machine instead of once per working directory.
    env.setdefault(HYPOTHESIS_STORAGE_ENV, str(cache_root() / "hypothesis"))
    if policy:
        env[POLICY_ENV] = policy
    return env


def check_runnable(spec: HarnessSpec) -> None:
    first = spec.path.read_text(encoding="utf-8").splitlines()[:1]
    if first != ["#!/usr/bin/env python3"]:
        raise HarnessError(f"{spec.path}: first line must be '#!/usr/bin/env python3' (libFuzzer re-executes it)")
    if not os.access(spec.path, os.X_OK):
        raise HarnessError(f"{spec.path}: not executable (chmod +x {spec.path})")


def option_flags(spec: HarnessSpec) -> list[str]:
    return [f"-{key}={value}" for key, value in spec.options().items()]


def fuzz_command(
    spec: HarnessSpec, layout: Layout, time_s: int | None, jobs: int, extra: Sequence[str] = ()
) -> list[str]:
    work = layout.work_corpus(spec.name)
    artifacts = layout.artifacts(spec.name)
    cmd = [str(spec.path.resolve()), str(work)]
    if spec.seeds.is_dir():
        cmd.append(str(startup_folder(spec, layout)))  # corpus/NAME less its seeds listed redundant
    cmd.append(f"-artifact_prefix={artifacts}{os.sep}")
    if spec.dictionary:
        cmd.append(f"-dict={spec.dictionary}")
    cmd += option_flags(spec)
    if time_s is not None:
        cmd.append(f"-max_total_time={int(time_s)}")
    if jobs > 1:
        cmd.append(f"-fork={jobs}")
    cmd.append("-print_final_stats=1")
    return cmd + list(extra)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stream(
    cmd: list[str], env: dict, cwd: Path, deadline_s: float, log_path: Path | None, on_line=None
) -> tuple[int, Progress, bool, float]:
    """Run cmd (own process group), feeding every stdout/stderr line to a Progress and on_line."""
    progress = Progress()
    start = time.monotonic()
    log = open(log_path, "w", encoding="utf-8", errors="replace") if log_path else None
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
        bufsize=1,
    )
    timed_out = False
    try:
        import selectors

        sel = selectors.DefaultSelector()
        assert proc.stdout is not None, "started with stdout=PIPE"
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            if time.monotonic() - start > deadline_s:
                timed_out = True
                _kill_group(proc)
                break
            if not sel.select(timeout=0.5):
                if proc.poll() is not None:
                    break
                continue
            line = proc.stdout.readline()
            if not line:
                break
            if log:
                log.write(line)
            status = progress.feed(line)
            if on_line:
                on_line(line, progress, status)
        rc = proc.wait(timeout=30)
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    finally:
        if log:
            log.close()
        _kill_group(proc)  # fork-mode children must not outlive the run
    return rc, progress, timed_out, time.monotonic() - start


def _new_artifacts(directory: Path, since: float, reported: list) -> list[str]:
    found = [p for p in corpus_files(directory) if p.stat().st_mtime >= since - 1]
    paths = {str(p) for p in found}
    for rel in reported:  # libFuzzer may print a relative path
        p = Path(rel)
        if p.is_file():
            paths.add(str(p.resolve()))
    return sorted(paths)


def run(
    spec: HarnessSpec,
    layout: Layout,
    time_s: int | None = 60,
    jobs: int = 1,
    policy: str | None = None,
    extra: Sequence[str] = (),
    on_line=None,
    mutator: str | None = None,
) -> RunResult:
    """Fuzz one harness; returns once libFuzzer stops (time up, crash, or -runs reached).
    `mutator` (custom | bytes) overrides PROXYFUZZ_MUTATOR for this run."""
    check_runnable(spec)
    if jobs < 1:
        raise HarnessError(f"--jobs must be >= 1, got {jobs}")
    if time_s is None and not any(f.startswith(("-runs=", "-max_total_time=", "-atheris_runs=")) for f in extra):
        raise HarnessError("refusing an unbounded run: give --time or -runs=N")
    for d in (layout.work_corpus(spec.name), layout.artifacts(spec.name), layout.logs()):
        d.mkdir(parents=True, exist_ok=True)
    cmd = fuzz_command(spec, layout, time_s, jobs, extra)
    log_path = layout.logs() / f"{spec.name}.log"
    started = time.time()
    deadline = (time_s or 600) + STARTUP_GRACE
    env = child_env(layout, policy)
    env[STATS_ENV] = str(_fresh_dir(layout.work / "mutations" / spec.name))
    if mutator:
        env[MUTATOR_ENV] = mutator
    rc, progress, timed_out, elapsed = stream(cmd, env, layout.root, deadline, log_path, on_line)
    artifacts = _new_artifacts(layout.artifacts(spec.name), started, progress.artifacts)
    return RunResult(
        spec.name,
        rc,
        elapsed,
        progress,
        artifacts,
        len(corpus_files(layout.work_corpus(spec.name))),
        log_path,
        timed_out,
        read_stats(env[STATS_ENV]),
    )


def _fresh_dir(path: Path) -> Path:
    """An empty folder (what an earlier run left there is removed)."""
    if path.is_dir():
        for child in path.iterdir():
            child.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _libfuzzer_merge(spec: HarnessSpec, layout: Layout, into: Path, sources: list[Path], log: Path, timeout_s: int):
    """libFuzzer -merge=1 of `sources` into `into`: what adds coverage moves in; returns (rc, timed out)."""
    cmd = [str(spec.path.resolve()), "-merge=1", str(into), *map(str, sources)]
    cmd += [f"-artifact_prefix={layout.artifacts(spec.name)}{os.sep}"] + option_flags(spec)
    layout.artifacts(spec.name).mkdir(parents=True, exist_ok=True)
    layout.logs().mkdir(parents=True, exist_ok=True)
    rc, _, timed_out, _ = stream(cmd, child_env(layout), layout.root, timeout_s, log)
    return rc, timed_out


def merge(spec: HarnessSpec, layout: Layout, timeout_s: int = 600) -> tuple[int, int, int]:
    """Minimize the working corpus into corpus/NAME with -merge=1; returns (before, after, returncode)."""
    check_runnable(spec)
    work = layout.work_corpus(spec.name)
    if not corpus_files(work):
        raise HarnessError(f"nothing to merge: {work} is empty (run `python -m fuzz run {spec.name}` first)")
    spec.seeds.mkdir(parents=True, exist_ok=True)
    before = len(spec.seed_files())
    log = layout.logs() / f"{spec.name}.merge.log"
    rc, timed_out = _libfuzzer_merge(spec, layout, spec.seeds, [work], log, timeout_s)
    if timed_out:
        raise HarnessError(f"merge of {spec.name} did not finish within {timeout_s} s")
    return before, len(spec.seed_files()), rc


def write_startup_listing(spec: HarnessSpec, layout: Layout, timeout_s: int = 1800) -> tuple[int, int]:
    """Merge corpus/NAME (regress-* seeds first, always kept) and list by digest what the merge left
    out in corpus/NAME.redundant, the seeds a run's start skips (fuzz/startup_seeds.py);
    returns (seeds, listed)."""
    check_runnable(spec)
    seeds = spec.seed_files()
    with tempfile.TemporaryDirectory() as tmp:
        kept, rest = Path(tmp, "kept"), Path(tmp, "rest")
        kept.mkdir()
        rest.mkdir()
        for i, seed in enumerate(seeds):
            shutil.copy2(seed, (kept if seed.name.startswith(KEPT_PREFIX) else rest) / f"{i}-{seed.name}")
        log = layout.logs() / f"{spec.name}.startup.log"
        rc, timed_out = _libfuzzer_merge(spec, layout, kept, [rest], log, timeout_s)
        if rc != 0 or timed_out:
            raise HarnessError(f"merge of {spec.name} failed (rc {rc}, timed out {timed_out}): {log}")
        merged = {digest(p) for p in corpus_files(kept)}
    redundant = sorted({digest(s) for s in seeds if not s.name.startswith(KEPT_PREFIX)} - merged)
    listing(spec).write_text("".join(f"{d}\n" for d in redundant), encoding="ascii")
    return len(seeds), len(redundant)


# ---------------------------------------------------------------------------------------------
# Commands


def _split_passthrough(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def _parser(prog: str, description: str):
    import argparse
    from fuzz.harness import add_layout_arguments

    parser = argparse.ArgumentParser(prog=f"python -m fuzz {prog}", description=description)
    add_layout_arguments(parser)
    return parser


def _policy_arg(parser) -> None:
    parser.add_argument(
        "--policy",
        choices=("all", "project", "derived"),
        help="instrumentation policy (default: instrumentation.toml's default)",
    )


def _mutator_arg(parser) -> None:
    parser.add_argument(
        "--mutator",
        choices=MODES,
        help="custom (default): the harness's structure-aware mutator (fuzz/mutators/), with a "
        "share of libFuzzer's byte mutations; bytes: libFuzzer's byte mutator alone",
    )


def cmd_run(argv: list[str]) -> int:
    from fuzz.harness import find, layout_from_args

    own, passthrough = _split_passthrough(argv)
    parser = _parser("run", "Fuzz one harness; new inputs go to work/corpus/NAME, crashes to work/artifacts/NAME.")
    parser.add_argument("name")
    parser.add_argument("--time", type=int, default=60, help="seconds (-max_total_time), default 60")
    parser.add_argument("--jobs", type=int, default=1, help="libFuzzer fork mode with N workers")
    parser.add_argument("--quiet", action="store_true", help="show progress lines, not libFuzzer's output")
    _policy_arg(parser)
    _mutator_arg(parser)
    args = parser.parse_args(own)
    if args.time <= 0:
        parser.error("--time must be > 0")
    layout = layout_from_args(args)
    spec = find(layout, args.name)

    def echo(line, progress, status):
        if not args.quiet:
            sys.stdout.write(line)
            sys.stdout.flush()

    campaign, samples = Campaign(layout), Samples()
    result = run(
        spec, layout, args.time, args.jobs, args.policy, passthrough, on_line=tee(samples, echo), mutator=args.mutator
    )
    print(result.summary())
    campaign.add(result, samples)
    print(f"campaign report: {campaign.write_index()}")
    return 1 if result.artifacts or result.timed_out else 0


def cmd_merge(argv: list[str]) -> int:
    from fuzz.harness import find, layout_from_args

    parser = _parser("merge", "Minimize work/corpus/NAME into corpus/NAME (libFuzzer -merge=1).")
    parser.add_argument("name")
    args = parser.parse_args(argv)
    layout = layout_from_args(args)
    spec = find(layout, args.name)
    before, after, rc = merge(spec, layout)
    print(
        f"merge {spec.name}: {spec.seeds} had {before} files, now {after} "
        f"(+{after - before}); log: {layout.logs() / (spec.name + '.merge.log')}"
    )
    return 0 if rc == 0 else 1


def cmd_startup_seeds(argv: list[str]) -> int:
    from fuzz.harness import find, layout_from_args

    parser = _parser("startup-seeds", "List in corpus/NAME.redundant the seeds a run's start skips (a -merge=1).")
    parser.add_argument("name")
    args = parser.parse_args(argv)
    layout = layout_from_args(args)
    total, listed = write_startup_listing(find(layout, args.name), layout)
    print(f"{args.name}: {listed} of {total} seeds listed redundant; a run starts from {total - listed}")
    return 0


class _ProgressPrinter:
    """One progress line at most every `every` seconds: harness i of n, elapsed, exec/s, cov, crashes."""

    def __init__(self, index: int, total: int, name: str, crashes_before: int, every: float = 5.0):
        self.prefix = f"[{index}/{total} {name}]"
        self.crashes_before, self.every = crashes_before, every
        self.start = self.last = time.monotonic()

    def __call__(self, line, progress, status):
        now = time.monotonic()
        if status and now - self.last >= self.every:
            self.last = now
            print(self.line(progress, now - self.start), flush=True)

    def line(self, progress, elapsed):
        return (
            f"{self.prefix} {elapsed:5.0f}s  #{progress.executions}  exec/s {progress.exec_per_sec}  "
            f"cov {progress.cov} ft {progress.ft}  corpus {progress.corpus}  "
            f"crashes so far {self.crashes_before + progress.crashes}"
        )


def cmd_fuzz_all(argv: list[str]) -> int:
    from fuzz.harness import discover, find, layout_from_args

    parser = _parser("fuzz-all", "Fuzz every harness in turn (what `make fuzz` runs), then triage.")
    parser.add_argument("--time", type=int, default=60, help="seconds per harness, default 60")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--harness", help="only this harness")
    _policy_arg(parser)
    _mutator_arg(parser)
    args = parser.parse_args(argv)
    if args.time <= 0:
        parser.error("--time must be > 0")
    layout = layout_from_args(args)
    specs = [find(layout, args.harness)] if args.harness else discover(layout)
    if not specs:
        print(f"no harnesses in {layout.harnesses}: nothing to fuzz")
        return 0
    crashes: list[str] = []  # artifact paths as libFuzzer printed them
    failed: list[str] = []
    started = time.monotonic()
    campaign = Campaign(layout)
    for i, spec in enumerate(specs, 1):
        print(
            f"[{i}/{len(specs)} {spec.name}] fuzzing for {args.time} s"
            + (f" with {args.jobs} jobs" if args.jobs > 1 else "")
            + f"; log: {layout.logs() / spec.name}.log",
            flush=True,
        )
        printer, samples = _ProgressPrinter(i, len(specs), spec.name, len(crashes)), Samples()
        try:
            result = run(
                spec, layout, args.time, args.jobs, args.policy, on_line=tee(samples, printer), mutator=args.mutator
            )
        except HarnessError as exc:
            print(f"[{i}/{len(specs)} {spec.name}] cannot run: {exc}", flush=True)
            failed.append(spec.name)
            continue
        campaign.add(result, samples)
        crashes += result.artifacts
        print(printer.line(result.progress, result.elapsed), flush=True)
        print(result.summary(), flush=True)
        if not result.progress.saw_status_line and not result.artifacts:
            failed.append(spec.name)
    print(
        f"fuzz-all: {len(specs)} harness(es) in {time.monotonic() - started:.0f} s, "
        f"{len(crashes)} crash file(s), {len(failed)} failed to run {failed if failed else ''}".rstrip()
    )
    _after_fuzzing(layout, crashes, args)
    print(f"campaign report: {campaign.write_index()}")
    return 1 if crashes or failed else 0


def _after_fuzzing(layout: Layout, crashes: list, args) -> None:
    """Triage this run's crash files into the layout's reports folder (where the campaign index
    links them), harness by harness; without the triage command, list them."""
    from fuzz import cli

    if "triage" in cli.COMMANDS and crashes:
        print("running triage ...", flush=True)
        by_harness: dict = {}
        for path in crashes:
            by_harness.setdefault(Path(path).parent.name, []).append(path)
        for name, paths in by_harness.items():
            cli.run_command(
                "triage", ["--harness", str(layout.harnesses / f"fuzz_{name}.py"), "--out", str(layout.reports), *paths]
            )
        return
    for path in crashes:
        print(f"  artifact: {path}")
