"""Which proxy component an oracle finding is about.

An oracle raises InvariantViolation from harness code, so the traceback names the oracle, not the
code at fault ("broken invariant X in fuzz/targets/translate.py:_fail"). Two ways to name the proxy
component instead, in order:

1. the oracle says what it judged: `InvariantViolation(..., judged=obj)`, where obj is the proxy
   object, class or function whose outcome was wrong; `component_of` turns it into
   `proxy/path.py:Qualname`;
2. otherwise, during triage replays only (PROXYFUZZ_BLAME=1, set by the triage runner), a profile
   hook remembers the proxy functions that ran most recently, and the innermost one that is not
   plumbing (buffers, stats, the dispatcher, the simulated network) nor a dunder method stands in,
   preferring one the proxy itself called over one test code called directly. The oracle runs
   proxy code last when it inspects or formats what it found (`conn.is_open`, `repr(conn)`): a
   finding blamed on `Connection.__repr__` or `Connection.is_open` named the message or the
   question, not the code at fault. So dunders (`__repr__`, `__str__`, `__len__`, ...) never stand
   in, and the newest call the proxy made itself wins over calls made from outside proxy/ (the
   harness's entry points, the oracle's questions), which stand in only when nothing else ran.

Fuzzing runs never pay for (2): the hook is installed only when the variable is set.
"""

import collections
import inspect
import os
import sys
from pathlib import Path

ENV = "PROXYFUZZ_BLAME"
REPO = Path(__file__).resolve().parent.parent
PROXY_DIR = str(REPO / "proxy") + os.sep
# Shared plumbing every path runs through: naming it would group unrelated findings together.
PLUMBING = (
    "proxy/buffer.py",
    "proxy/stats.py",
    "proxy/event.py",
    "proxy/network/sim.py",
    "proxy/network/held_input.py",
    "proxy/context.py",
)
# (file, qualname, called from proxy/ itself) of the newest proxy calls
_recent: "collections.deque[tuple[str, str, bool]]" = collections.deque(maxlen=64)


def _relative(filename: str) -> str:
    try:
        return Path(filename).resolve().relative_to(REPO).as_posix()
    except ValueError:
        return filename


def component_of(judged) -> str:
    """`proxy/path.py:Qualname` of an object, class, function or method (a string is kept as is)."""
    if isinstance(judged, str):
        return judged
    target = judged if inspect.isclass(judged) or inspect.isroutine(judged) else type(judged)
    target = getattr(target, "__func__", target)  # bound method -> function
    try:
        filename = inspect.getsourcefile(target) or ""
    except TypeError:
        filename = ""
    path = _relative(filename) if filename else getattr(target, "__module__", "?")
    return f"{path}:{getattr(target, '__qualname__', type(judged).__name__)}"


def _profile(frame, event, arg) -> None:
    if event == "call":
        filename = frame.f_code.co_filename
        if filename.startswith(PROXY_DIR):
            caller = frame.f_back
            internal = caller is not None and caller.f_code.co_filename.startswith(PROXY_DIR)
            _recent.append((filename, frame.f_code.co_qualname, internal))


def install_if_requested() -> bool:
    """Install the recent-call hook when PROXYFUZZ_BLAME is set (triage replays)."""
    if not os.environ.get(ENV):
        return False
    sys.setprofile(_profile)
    return True


def _is_dunder(qualname: str) -> bool:
    name = qualname.rsplit(".", 1)[-1]
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def last_component() -> str:
    """The innermost recently run proxy function that is neither plumbing nor a dunder such as the
    `__repr__` an oracle calls to format its message, called by the proxy itself if any such call
    was recorded, else the newest one test code called ("" when none was recorded)."""
    candidates = [
        (rel, qualname, internal)
        for rel, qualname, internal in ((_relative(f), q, i) for f, q, i in reversed(_recent))
        if rel not in PLUMBING and not _is_dunder(qualname)
    ]
    chosen = next((c for c in candidates if c[2]), candidates[0] if candidates else None)
    return f"{chosen[0]}:{chosen[1]}" if chosen else ""
