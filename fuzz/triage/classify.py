"""What one replay shows: the kind of failure, the exception, and the Python stack.

Kinds, checked in this order (the first that applies wins):
  oom        the run passed the memory limit (measured by the replay), libFuzzer said
             out-of-memory (exit 71 while fuzzing), or the exception is MemoryError;
  timeout    the run passed its wall limit, exit 70, or libFuzzer said timeout;
  invariant  an uncaught exception whose type is named *InvariantViolation (fuzz.oracles raises
             it with a message that starts with the invariant's name);
  exception  any other uncaught Python exception;
  signal     the interpreter died on a signal (a native crash: segfault, abort);
  exit       the target exited with a non-zero status and no traceback (sys.exit in a harness);
  none       the run did not fail.
"""

from __future__ import annotations

import dataclasses
import re

from .run_once import RunResult

EXCEPTION_BANNER = "=== Uncaught Python exception: ==="
TRACEBACK_HEADER = "Traceback (most recent call last):"
# traceback module: `  File "x.py", line 3, in f`; faulthandler: `  File "x.py", line 3 in f`
FRAME_LINE = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+),? in (?P<func>.+?)\s*$')
EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?$")
SECURITY_MARKER = re.compile(r"FuzzerSecurityIssue(Critical|High|Medium|Low)")
# fuzz.oracles words it "invariant 'name' violated: detail"; other harnesses start with the name.
INVARIANT_NAMES = (
    re.compile(r"""invariant ['"]([^'"]+)['"]"""),
    re.compile(r"^\s*([\w.\-]+)"),
)

# fuzz.oracles names the proxy component an invariant judged: "violated (judged: proxy/x.py:Name)".
JUDGED = re.compile(r"violated \(judged: (?P<component>[^)\s]+)\)")

EXIT_TIMEOUT = 70
EXIT_OOM = 71

KINDS = ("oom", "timeout", "invariant", "exception", "signal", "exit", "none")


@dataclasses.dataclass(frozen=True)
class RawFrame:
    file: str
    line: int
    function: str


@dataclasses.dataclass(frozen=True)
class Failure:
    kind: str
    exception_type: str = ""
    message: str = ""
    invariant: str = ""  # the broken invariant's name, for kind "invariant"
    component: str = ""  # the proxy component the invariant judged (`proxy/x.py:Qualname`), if named
    frames: tuple[RawFrame, ...] = ()  # innermost first
    security_level: str = ""  # from a FuzzerSecurityIssue<Level> line, if any

    @property
    def failed(self) -> bool:
        return self.kind != "none"


def classify(run: RunResult, rss_limit_mb: int) -> Failure:
    exc_type, message, frames = _last_exception(run.stdout) or _last_exception(run.stderr) or ("", "", ())
    if not frames:
        frames = _faulthandler_frames(run.stderr) or _faulthandler_frames(run.stdout)
    marker = SECURITY_MARKER.search(run.output)
    level = marker.group(1).lower() if marker else ""

    def failure(kind: str, **fields) -> Failure:
        return Failure(kind=kind, frames=tuple(frames), security_level=level, **fields)

    short_type = exc_type.rsplit(".", 1)[-1]
    if (
        run.killed_for == "memory"
        or run.peak_rss_mb > rss_limit_mb
        or run.returncode == EXIT_OOM
        or "libFuzzer: out-of-memory" in run.stderr
        or short_type == "MemoryError"
    ):
        return failure("oom", message=f"peak RSS {run.peak_rss_mb:.0f} MB (limit {rss_limit_mb} MB)")
    if run.killed_for == "timeout" or run.returncode == EXIT_TIMEOUT or "libFuzzer: timeout" in run.stderr:
        return failure("timeout", message=f"ran {run.wall_seconds:.1f} s")
    if exc_type and short_type.endswith("InvariantViolation"):
        judged = JUDGED.search(message)
        return failure(
            "invariant",
            exception_type=exc_type,
            message=message,
            invariant=_invariant_name(message),
            component=judged["component"] if judged else "",
        )
    if exc_type:
        return failure("exception", exception_type=exc_type, message=message)
    if run.returncode < 0 or "deadly signal" in run.stderr:
        return failure("signal", message=f"died on signal {-run.returncode}" if run.returncode < 0 else "deadly signal")
    if run.returncode != 0:
        return failure("exit", message=f"exited with status {run.returncode}")
    return Failure(kind="none")


def _invariant_name(message: str) -> str:
    for pattern in INVARIANT_NAMES:
        match = pattern.search(message or "")
        if match:
            return match.group(1).rstrip(":")
    return ""


def _last_exception(text: str) -> tuple[str, str, tuple[RawFrame, ...]] | None:
    """The uncaught exception: the last traceback block (later blocks are the ones raised while
    handling earlier ones), its frames innermost first, and its `Type: message` line."""
    start = text.rfind(TRACEBACK_HEADER)
    if start < 0:
        return _banner_only(text)
    lines = text[start:].splitlines()[1:]
    frames: list[RawFrame] = []
    exception_lines: list[str] = []
    for line in lines:
        if exception_lines:
            if not line.strip():
                break
            exception_lines.append(line)
            continue
        match = FRAME_LINE.match(line)
        if match:
            frames.append(RawFrame(match["file"], int(match["line"]), match["func"]))
        elif line and not line.startswith(" "):
            exception_lines.append(line)
    if not exception_lines:
        return _banner_only(text)
    head = EXCEPTION_LINE.match(exception_lines[0])
    if not head:
        return None
    message = "\n".join([head["message"] or "", *exception_lines[1:]]).strip()
    return head["type"], message, tuple(reversed(frames))


def _banner_only(text: str) -> tuple[str, str, tuple[RawFrame, ...]] | None:
    at = text.find(EXCEPTION_BANNER)
    if at < 0:
        return None
    following = text[at + len(EXCEPTION_BANNER) :].strip().splitlines()
    head = EXCEPTION_LINE.match(following[0]) if following else None
    return (head["type"], (head["message"] or "").strip(), ()) if head else None


def _faulthandler_frames(text: str) -> tuple[RawFrame, ...]:
    """Frames of the first thread faulthandler (or atheris's timeout handler) dumped; that dump
    is already innermost first."""
    at = text.find("Current thread")
    if at < 0:
        at = text.find("(most recent call first):")
    if at < 0:
        return ()
    frames = []
    for line in text[at:].splitlines()[1:]:
        match = FRAME_LINE.match(line)
        if not match:
            break
        frames.append(RawFrame(match["file"], int(match["line"]), match["func"]))
    return tuple(frames)
