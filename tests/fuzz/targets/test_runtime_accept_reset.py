"""The runtime harness resets clients before the proxy accepts them, as Linux reports it.

Live (BLACKBOX, 12-04): a connect followed at once by an RST made the listener raise a TypeError
for each connection (the transport had no peer address: getpeername fails with ENOTCONN once the
RST arrived), logged with a traceback and counted in server.unhandled_errors. The harness missed it
twice over: every action lets the loop settle, so the proxy had always accepted a client before it
could reset, and the simulated kernel still named the peer of a reset socket. The op connect_reset
and a kernel that forgets the peer, as Linux does, let its existing runtime_core_error oracle see it."""

import errno
from pathlib import Path

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import runtime
from fuzz.targets.runtime_kernel import Kernel
from proxy import _server_socket

SEED = Path(__file__).resolve().parents[3] / "corpus" / "runtime" / "connect_reset_before_accept-cap512"


def test_clients_reset_before_the_accept_pass():
    runtime.run(SEED.read_bytes())


def test_a_listener_that_asks_the_transport_for_the_peer_is_caught(monkeypatch):
    made = _server_socket.DownstreamTransport.connection_made

    def from_the_transport(self, transport):  # the proxy before the fix
        self.peer = _server_socket._address(transport.get_extra_info("peername"))
        made(self, transport)

    monkeypatch.setattr(_server_socket.DownstreamTransport, "connection_made", from_the_transport)
    with pytest.raises(InvariantViolation) as err:
        runtime.run(SEED.read_bytes())
    assert err.value.name == "runtime_core_error"


def test_the_kernel_forgets_the_peer_of_a_reset_socket_still_in_the_accept_queue():
    kernel = Kernel(4096)
    listening = kernel.bind(("127.0.0.1", 8080))
    listening.listen()
    client = kernel.dial(("127.0.0.1", 8080), ("127.0.0.1", 50000))
    client.reset()
    sock, address = listening.accept()
    assert address == ("127.0.0.1", 50000)  # accept(2) still says who it was
    with pytest.raises(OSError) as err:
        sock.getpeername()
    assert err.value.errno == errno.ENOTCONN
