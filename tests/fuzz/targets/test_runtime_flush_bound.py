"""The runtime harness's flush-bound oracle (fuzz/targets/runtime_flush_bound.py): a connection
manager's socket must not outlive its connection by more than Envoy's delayed close allows while
the client takes nothing. Seed: a client asks for a 1,500-byte body with Connection: close and
never reads (kernel capacity 512), then four seconds pass. Before the fix (the transport bounded
only tcp_proxy's idle timeout) the socket stayed with 19 bytes for good; the differential allowed
it (after a close without FIN the runtime may deliver more than the reference)."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import runtime
from fuzz.targets.runtime_flush_bound import BOUND_US, HeldSockets
from proxy._server_socket import SocketTransport
from proxy.network.connection import Connection, State

SEED = (
    Path(__file__).resolve().parents[3]
    / "corpus"
    / "runtime"
    / "regress-hcm-delayed-close-keeps-socket-for-a-client-that-never-reads"
)


def test_the_clean_runtime_lets_the_socket_go():
    runtime.run(SEED.read_bytes())


def test_a_transport_that_never_aborts_is_caught(monkeypatch):
    monkeypatch.setattr(SocketTransport, "_abort_unless_taken", lambda self, t, held: None)
    with pytest.raises(InvariantViolation) as caught:
        runtime.run(SEED.read_bytes())
    assert caught.value.name == "runtime_socket_held_past_flush_bound"


def test_the_bound_applied_to_tcp_proxys_idle_timeout_alone_is_caught(monkeypatch):
    # The proxy before this oracle: only a close that gave up on the peer was bounded.
    monkeypatch.setattr(Connection, "flush_bounded", property(lambda self: self.output_abandoned))
    with pytest.raises(InvariantViolation) as caught:
        runtime.run(SEED.read_bytes())
    assert caught.value.name == "runtime_socket_held_past_flush_bound"


class _Transport:
    """asyncio's transport, as the oracle reads it (hashable, as the real one is)."""

    def __init__(self, sizes) -> None:
        self.sizes = iter(sizes)

    def get_write_buffer_size(self) -> int:
        return next(self.sizes)


def _closed(failure=None, sizes=(19,) * 3):
    conn = SimpleNamespace(
        id=1, state=State.CLOSED, stream_info={"failure": failure}, filter_manager=SimpleNamespace(read_filters=[])
    )
    return (SimpleNamespace(local="l", remote="r"), _Transport(sizes), SimpleNamespace(conn=conn))


def test_an_unmoving_tcp_proxy_idle_timeout_socket_is_caught_past_two_periods():
    entry, held = _closed("idle_timeout"), HeldSockets()
    held.check([entry], 0)
    held.check([entry], BOUND_US)
    with pytest.raises(InvariantViolation):
        held.check([entry], BOUND_US + 1)


def test_a_flushing_tcp_proxy_close_may_wait_for_its_peer():
    entry, held = _closed(), HeldSockets()
    held.check([entry], 0)
    held.check([entry], 10 * BOUND_US)


def test_a_peer_taking_bytes_starts_a_new_period():
    entry, held = _closed("idle_timeout", sizes=(19, 18, 18)), HeldSockets()
    held.check([entry], 0)
    held.check([entry], BOUND_US)
    held.check([entry], 2 * BOUND_US)
