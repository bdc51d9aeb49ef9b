"""Every harness returns on a tiny, an empty and a large input (harness bugs are real: OSS-Fuzz's
h11 harness called functions it never imported). A hang is cut off by an alarm and reported."""

import random
import signal

import pytest

from fuzz import harness, replay

LAYOUT = harness.Layout()
SPECS = harness.discover(LAYOUT)
HANG_LIMIT_S = 60  # a hang guard, not a speed target


def large_input(spec):
    size = int(spec.options().get("max_len", 65536))
    return random.Random(0).randbytes(size)


@pytest.mark.parametrize("kind", ["tiny", "empty", "large"])
@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_harness_returns(spec, kind):
    module = replay.load_harness(spec.path, "none", LAYOUT.policy_file)
    data = {"tiny": b"\x01", "empty": b"", "large": large_input(spec)}[kind]

    def hang(signum, frame):
        raise TimeoutError(f"fuzz_{spec.name}.py did not return within {HANG_LIMIT_S} s on the {kind} input")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(HANG_LIMIT_S)
    try:
        module.TestOneInput(data)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


DESCRIBED = ("session", "network_filter", "http_filter", "runtime", "workers")


@pytest.mark.parametrize("name", DESCRIBED)
def test_harness_describes_its_inputs_for_triage(name):
    """Triage shows a crash input as the harness reads it (fuzz/triage/run_once.py describe_input)."""
    spec = next(s for s in SPECS if s.name == name)
    module = replay.load_harness(spec.path, "none", LAYOUT.policy_file)
    for kind, data in (("seed", spec.seed_files()[0].read_bytes()), ("tiny", b"\x01"), ("empty", b"")):
        lines = module.describe(data).splitlines()
        assert lines and lines[0].startswith(("config ", "filter ")), f"{name} {kind}: {lines[:2]}"
        if kind == "seed":  # a seed has actions: numbered lines after the head
            assert lines[-1].split()[0].isdigit(), f"{name}: {lines[-1]!r}"
