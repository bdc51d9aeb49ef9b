"""What asyncio holds after a close that gave up on the peer (efe871e, a1613de: tcp_proxy's idle
timeout): the runtime aborts the transport once the peer took none of it for
CLOSE_FLUSH_TIMEOUT_S, and the reference world (fuzz/targets/runtime_reference.py) drops the same
bytes. Seed: a tcp_proxy with idle timeouts (config-s1-0023), an upstream sending 256 KiB to a client
that reads nothing until well after the timeout (kernel capacity 4096). The differential lets the
runtime deliver more than the reference after a close without FIN (compare in runtime.py), so a
transport that never aborts is no finding here: tests/e2e/test_e2e_closed_socket_released.py
judges that live."""

from pathlib import Path

from fuzz.targets import runtime

SEED = (
    Path(__file__).resolve().parents[3] / "corpus" / "runtime" / "regress-tcp-proxy-idle-timeout-leaves-unread-output"
)


def test_the_seed_still_names_its_configuration():
    # Byte 0 names a pool configuration by position: a regenerated pool would move it.
    assert runtime.configs().names[SEED.read_bytes()[0]] == "config-s1-0023.yaml"


def test_the_reference_drops_what_an_abandoned_close_left_with_asyncio():
    # Before the reference knew of the abort (a clean clone of 9301208): runtime_differs_from_sim,
    # client 0 read 4096 bytes through the runtime (the kernel's queue), more in memory.
    runtime.run(SEED.read_bytes())
