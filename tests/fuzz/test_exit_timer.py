"""A harness process that exits slowly still exits by its own code, not by libFuzzer's alarm.

The planted shape: libFuzzer's interval timer keeps firing while the interpreter frees a big heap
after an input raised (here one object slow to free), and the alarm's handler is gone by then.
"""

import signal
import subprocess
import sys
import textwrap

import pytest

from fuzz.harness import REPO_ROOT

SLOW_EXIT = textwrap.dedent(
    """
    import signal, sys, time
    sys.path.insert(0, {root!r})

    class SlowToFree:  # freed during finalization, after the signal handlers are reset
        def __del__(self):
            time.sleep(0.5)

    held = SlowToFree()
    signal.signal(signal.SIGALRM, lambda *_: None)  # libFuzzer's watch for slow inputs
    signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
    if {disarm}:
        from fuzz import exit_timer
        exit_timer.disarm_at_exit()
    sys.exit(77)  # as atheris does after printing an uncaught exception
    """
)


def _exit_status(disarm: bool) -> int:
    script = SLOW_EXIT.format(root=str(REPO_ROOT), disarm=disarm)
    return subprocess.run([sys.executable, "-c", script], timeout=30).returncode


def test_a_slow_exit_is_killed_by_the_alarm_without_the_hook():
    assert _exit_status(disarm=False) == -signal.SIGALRM


def test_the_hook_lets_a_slow_exit_finish_with_its_own_status():
    assert _exit_status(disarm=True) == 77


def test_the_hook_is_registered_once(monkeypatch):
    from fuzz import exit_timer

    calls = []
    monkeypatch.setattr(exit_timer, "_registered", False)
    monkeypatch.setattr(exit_timer.atexit, "register", calls.append)
    exit_timer.disarm_at_exit()
    exit_timer.disarm_at_exit()
    assert calls == [exit_timer._disarm]


ATHERIS_HARNESS = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    import atheris
    from fuzz import harness

    HEAP = [[i] for i in range(1_500_000)]  # a long campaign's heap: slow to free at exit
    with harness.instrumented("route", policy="none"):  # every harness's first call
        pass

    def TestOneInput(data):
        raise ValueError("an oracle's finding")

    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
    """
)


@pytest.mark.slow
def test_libfuzzer_writes_the_crash_file_of_a_slow_exit(tmp_path):
    """Without the hook this harness is killed by SIGALRM and writes nothing (2 of 2 runs here)."""
    script = tmp_path / "fuzz_slow_exit.py"
    script.write_text(ATHERIS_HARNESS.format(root=str(REPO_ROOT)))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "seed").write_bytes(b"x")
    proc = subprocess.run(
        [sys.executable, str(script), str(corpus), f"-artifact_prefix={tmp_path}/", "-timeout=1", "-runs=2"],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 77 and list(tmp_path.glob("crash-*")), proc.stdout[-2000:]
