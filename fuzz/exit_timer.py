"""No timer signal while a harness process exits, so libFuzzer still writes the crash file.

libFuzzer re-arms SIGALRM (ITIMER_REAL) every timeout/2 + 1 seconds to watch for slow inputs.
When an input raises, atheris prints the traceback and exits; the interpreter's finalization then
frees the whole heap before libFuzzer's exit callback writes `crash-<sha1>`. By then the alarm's
handler is gone, so an alarm that fires during a slow finalization (a long campaign's heap, a
loaded machine) kills the process with SIGALRM and the finding is lost: a 6-minute session
campaign ended "libFuzzer exited with status -14" with an InvariantViolation printed and no file.
An atexit hook runs before that finalization and stops the timer: the process is ending anyway,
and the runner's own deadline still bounds an exit that hangs.
"""

import atexit
import signal

_registered = False


def _disarm() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)


def disarm_at_exit() -> None:
    """Stop the interval timer when the interpreter starts to exit (once per process)."""
    global _registered
    if not _registered:
        atexit.register(_disarm)
        _registered = True
