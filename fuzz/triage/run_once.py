"""Run a harness once on one input, in a fresh process, and watch it.

libFuzzer replays a file given as argument (`-runs=1`) and exits; atheris prints an uncaught
exception's traceback on stdout and libFuzzer's own messages on stderr, so both are kept.
libFuzzer checks `-rss_limit_mb` at most once a second while replaying one file, so memory is
measured here: /proc/<pid>/status is polled while the run lasts, and the kernel's peak RSS (wait4)
is read at the end. A forked child's peak starts at this process's own peak (the kernel copies it
at fork and keeps it across exec), for wait4 and for libFuzzer's own check alike: so a wait4 peak no
larger than ours stands for nothing and the child's polled VmHWM is taken instead, and libFuzzer
gets the limit plus our peak (the polling enforces the limit itself). A run past the wall timeout
or the memory limit first gets SIGABRT — with PYTHONFAULTHANDLER
set, Python then prints where it was — then SIGKILL if it is still alive.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POLL_SECONDS = 0.02
ABORT_GRACE_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class RunResult:
    returncode: int  # negative: killed by that signal
    stdout: str
    stderr: str
    wall_seconds: float
    peak_rss_mb: float
    killed_for: str | None  # "timeout" or "memory" when the supervisor ended the run

    @property
    def output(self) -> str:
        return self.stdout + "\n" + self.stderr


class HarnessCommand:
    """How to start a harness script so that libFuzzer can re-execute it.

    libFuzzer's -minimize_crash (like -fork and -merge) runs argv[0] again through the shell, so
    argv[0] must be an executable path. A script with a shebang and the exec bit is run as is;
    any other script gets a small executable launcher that runs it as __main__.
    """

    def __init__(self, harness: Path, project_root: Path):
        self.harness = harness.resolve()
        self.project_root = project_root.resolve()
        self._tmp: tempfile.TemporaryDirectory | None = None
        if not self.harness.is_file():
            raise FileNotFoundError(f"harness not found: {harness}")
        self.executable = self._direct() or self._launcher()

    def _direct(self) -> Path | None:
        mode = self.harness.stat().st_mode
        with open(self.harness, "rb") as f:
            has_shebang = f.read(2) == b"#!"
        return self.harness if has_shebang and mode & stat.S_IXUSR else None

    def _launcher(self) -> Path:
        self._tmp = tempfile.TemporaryDirectory(prefix="triage-launcher-")
        path = Path(self._tmp.name) / self.harness.stem
        path.write_text(
            f"#!{sys.executable}\n"
            "import runpy, sys\n"
            "sys.argv[0] = __file__  # libFuzzer re-executes argv[0]\n"
            f"sys.path[0] = {str(self.harness.parent)!r}\n"
            f"runpy.run_path({str(self.harness)!r}, run_name='__main__')\n"
        )
        path.chmod(0o755)
        return path

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # The harness's shebang (`env python3`) must find this interpreter, and the project's
        # packages must import whatever folder the script lives in.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        paths = [str(self.project_root)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["PYTHONFAULTHANDLER"] = "1"
        # Oracle findings name the proxy code that ran last when the oracle does not say what it
        # judged (fuzz/blame.py); only replays pay for the hook, never fuzzing runs.
        env["PROXYFUZZ_BLAME"] = "1"
        return env

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


_DESCRIBE = (
    "import os, runpy, sys\n"
    "sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))  # as running the script would\n"
    "ns = runpy.run_path(sys.argv[1], run_name='__proxyfuzz_describe__')\n"
    "describe = ns.get('describe')\n"
    "print(describe(open(sys.argv[2], 'rb').read()) if describe else '', end='')\n"
)


def describe_input(command: HarnessCommand, input_path: Path, timeout: float) -> str:
    """The input as the harness reads it (its module-level `describe(data) -> str`: a session's
    actions, a filter's configuration), for the report; "" when the harness has no describe."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _DESCRIBE, str(command.harness), str(input_path)],
            env=command.environment(),
            cwd=command.project_root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"(describe did not finish in {timeout:.0f} s)"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"(describe failed: {last})"
    return proc.stdout


def address_space_limit_mb(rss_limit_mb: int) -> int:
    """RLIMIT_AS for a replay: a huge single allocation fails fast with MemoryError instead of
    eating the shared machine; ample headroom so ordinary virtual reservations still fit."""
    return rss_limit_mb * 2 + 1024


def run_once(
    command: HarnessCommand,
    input_path: Path,
    *,
    timeout: float,
    rss_limit_mb: int,
    extra_flags: tuple[str, ...] = (),
) -> RunResult:
    """Replay `input_path` once. `timeout` is the per-input timeout given to libFuzzer; the wall
    limit adds atheris's slack (it reports a timeout between 1x and 2x) and interpreter start-up."""
    as_limit = address_space_limit_mb(rss_limit_mb) << 20
    inherited_mb = _status_mb(os.getpid(), "VmHWM:")
    argv = [
        str(command.executable),
        "-runs=1",
        f"-timeout={max(1, int(round(timeout)))}",
        f"-rss_limit_mb={rss_limit_mb + int(inherited_mb)}",
        *extra_flags,
        str(input_path.resolve()),
    ]

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))

    wall_limit = 2 * timeout + 10
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=command.project_root,
            env=command.environment(),
            start_new_session=True,
            preexec_fn=limit_memory,
        )
        status, usage, killed_for, polled_mb = _supervise(proc, started, wall_limit, rss_limit_mb)
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return RunResult(
        returncode=os.waitstatus_to_exitcode(status),
        stdout=stdout,
        stderr=stderr,
        wall_seconds=wall,
        peak_rss_mb=_own_peak_mb(usage.ru_maxrss / 1024.0, inherited_mb, polled_mb),  # Linux reports KiB
        killed_for=killed_for,
    )


def _own_peak_mb(wait4_mb: float, inherited_mb: float, polled_mb: float) -> float:
    """The child's own peak RSS: wait4's unless it may be the pages inherited from this process."""
    return wait4_mb if wait4_mb > inherited_mb + 1 else polled_mb


def _supervise(proc: subprocess.Popen, started: float, wall_limit: float, rss_limit_mb: int):
    killed_for: str | None = None
    aborted_at = 0.0  # when SIGABRT went: read only once killed_for is set
    polled = 0.0
    while True:
        # Peek without reaping, so the process group id cannot be reused before the
        # stragglers (grandchildren, if any) are killed; then reap with its resource usage.
        if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            _kill_group(proc.pid, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen quiet
            return status, usage, killed_for, polled
        now = time.monotonic()
        polled = max(polled, _status_mb(proc.pid, "VmHWM:"))
        if killed_for is None:
            if now - started > wall_limit:
                killed_for = "timeout"
            elif _status_mb(proc.pid, "VmRSS:") > rss_limit_mb:
                killed_for = "memory"
            if killed_for:
                aborted_at = now
                _kill_group(proc.pid, signal.SIGABRT)
        elif now - aborted_at > ABORT_GRACE_SECONDS:
            _kill_group(proc.pid, signal.SIGKILL)
        time.sleep(POLL_SECONDS)


def _status_mb(pid: int, field: str) -> float:
    """A memory field of /proc/<pid>/status (VmRSS:, VmHWM:) in MB; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024.0
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return 0.0


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
