"""Triage's memory measurement is the replayed harness's own: a child's wait4 peak includes the
pages it shared with the parent between fork and exec, so a large parent (a long pytest session,
a fuzz-all process) made every replay look out of memory."""

from pathlib import Path

from fuzz.triage.run_once import HarnessCommand, run_once

ROOT = Path(__file__).resolve().parents[3]
HARNESS = ROOT / "tests" / "triage_harness" / "fuzz_planted.py"
LIMIT_MB = 160


def test_a_large_parent_does_not_make_a_small_replay_look_out_of_memory(tmp_path):
    harmless, slow, hungry = tmp_path / "ok", tmp_path / "t", tmp_path / "m"
    harmless.write_bytes(b"ok")
    slow.write_bytes(b"T")  # long enough for libFuzzer's own RSS check to run
    hungry.write_bytes(b"M")
    command = HarnessCommand(HARNESS, ROOT)
    ballast = bytearray(3 * LIMIT_MB << 20)
    ballast[::4096] = b"x" * len(ballast[::4096])  # resident, not just reserved
    try:
        small = run_once(command, harmless, timeout=10, rss_limit_mb=LIMIT_MB)
        spinning = run_once(command, slow, timeout=2, rss_limit_mb=LIMIT_MB)
        large = run_once(command, hungry, timeout=10, rss_limit_mb=LIMIT_MB)
    finally:
        del ballast
        command.close()
    assert small.returncode == 0 and 0 < small.peak_rss_mb < LIMIT_MB, small.peak_rss_mb
    assert "out-of-memory" not in spinning.stderr and spinning.peak_rss_mb < LIMIT_MB
    assert "libFuzzer: timeout" in spinning.stderr or spinning.killed_for == "timeout"
    assert large.killed_for == "memory" or large.peak_rss_mb >= LIMIT_MB
