"""The processes bench proxy starts: each one on 127.0.0.1, its output in a log file, stopped by
its own pid (SIGTERM, then SIGKILL after a grace period) when the Services context exits, also
on errors and Ctrl-C. Load generators run with a hard timeout."""

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class StartError(RuntimeError):
    """A service did not come up; the message carries the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    log: Path

    def children(self) -> dict[int, bytes]:
        """Direct children (a profiler's target) by pid, with their command lines, from /proc;
        empty where that is unavailable."""
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return {}
        return {int(p): _cmdline(int(p)) for p in text.split()}

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the process has used so far (/proc; None where unavailable)."""
        return cpu_seconds(self.proc.pid)


class Services:
    """`with Services(workdir) as svc: svc.start(name, argv, port)`; everything started is stopped
    on exit, by pid."""

    def __init__(self, workdir: Path, grace_s: float = 5.0) -> None:
        self.workdir = Path(workdir)
        self.grace_s = grace_s
        self.started: list[Service] = []

    def __enter__(self) -> "Services":
        return self

    def __exit__(self, *exc) -> None:
        for svc in reversed(self.started):
            self.stop(svc)

    def start(
        self, name: str, argv: list[str], ports: list[int], timeout_s: float = 20.0, env: dict | None = None
    ) -> Service:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir, env=env
            )
        svc = Service(name, proc, log)
        self.started.append(svc)
        deadline = time.monotonic() + timeout_s
        for port in ports:
            while not _listening(port):
                if proc.poll() is not None:
                    raise StartError(
                        f"{name} exited with {proc.returncode} before listening on 127.0.0.1:{port}:\n{_log_tail(log)}"
                    )
                if time.monotonic() > deadline:
                    raise StartError(
                        f"{name} did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s:\n{_log_tail(log)}"
                    )
                time.sleep(0.05)
        return svc

    def stop(self, svc: Service, sig: int = signal.SIGTERM) -> int | None:
        """Signal the service's own pid, wait, then SIGKILL it (and any child it left) if needed."""
        children = svc.children()
        if svc.proc.poll() is None:
            svc.proc.send_signal(sig)
            try:
                svc.proc.wait(self.grace_s)
            except subprocess.TimeoutExpired:
                svc.proc.kill()
                svc.proc.wait(self.grace_s)
        for pid, cmdline in children.items():  # e.g. the proxy under py-spy, normally gone with it
            if cmdline and _cmdline(pid) == cmdline:  # still that process, not a reused pid
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return svc.proc.returncode


def cpu_seconds(pid: int) -> float | None:
    """CPU time of the process and its live descendants (a proxy's worker processes)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    ticks = parse_proc_stat_cpu(stat)
    for child in _children(pid):
        ticks += round((cpu_seconds(child) or 0.0) * os.sysconf("SC_CLK_TCK"))
    return ticks / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def parse_proc_stat_cpu(stat: str) -> int:
    """utime + stime (clock ticks) from a /proc/PID/stat line; the command name may hold spaces
    and parentheses, so fields are counted after its last ')'."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), counted from 1


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def run_tool(argv: list[str], timeout_s: float, cwd: Path | None = None) -> str:
    """Run a load generator to completion (killed after `timeout_s`); its stdout+stderr."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout_s, cwd=cwd, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        raise StartError(f"{argv[0]} did not finish within {timeout_s:.0f} s:\n{out[-800:]}") from None
    return done.stdout + done.stderr
