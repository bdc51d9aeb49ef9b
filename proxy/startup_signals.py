"""The signals held from the proxy's first line until its event loop has handlers for them.

Start-up (imports, loading and building the configuration, binding) takes a second or more, and a
SIGTERM in that time (a supervisor stopping a proxy it just started) took the default action: the
process died by the signal (exit 143) instead of the clean stop it asks for. Held, the signal stays
pending and is delivered once the handlers are in place: the proxy says ready, drains and exits 0.
Only `signal` is imported here, so `python -m proxy` can hold them before anything slow.
"""

import signal

HELD = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP})
# From the first line: all but SIGINT, so Ctrl-C still ends a start-up that waits (`-c /dev/stdin`
# read from a terminal) with Python's KeyboardInterrupt, as before.
AT_START = HELD - {signal.SIGINT}


def hold(signals=HELD) -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)


def release() -> None:
    """Deliver what arrived while held: call it once the loop's handlers are installed."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)
