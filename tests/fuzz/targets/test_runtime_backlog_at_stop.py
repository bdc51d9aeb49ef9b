"""A client still in the accept queue when a listening socket closes hears a reset (Linux,
inet_csk_listen_stop), and the runtime harness's admin oracle owes it no answer: the admin stopped
before its accept pause (out of descriptors) ended (campaign 12-05, runtime -seed=1504:
admin_request_unanswered on a clean tree). An admin that leaves an accepted client's request
unanswered at a stop is still caught."""

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import runtime
from fuzz.targets.runtime import Action as A
from fuzz.targets.runtime_kernel import Kernel
from proxy import admin

ADDRESS = ("127.0.0.1", 9901)
ADMIN_THEN_STOP = [A("admin", 0, 1), A("stop"), A("advance", 0, 101)]


def test_closing_a_listening_socket_resets_the_connections_it_never_accepted():
    kernel = Kernel(capacity=512)
    listener = kernel.bind(ADDRESS)
    listener.listen()
    peer = kernel.dial(ADDRESS, ("127.0.0.1", 60000))
    peer.send(b"GET /ready HTTP/1.1\r\nHost: a\r\n\r\n")
    listener.close()
    assert peer.read() == b"" and peer.saw_reset and peer.never_accepted
    assert not listener.backlog and not kernel.open_sockets()


def test_an_admin_client_its_stop_left_in_the_accept_queue_owes_no_answer():
    world = runtime.run(runtime.encode_actions([A("accept_fail", 0)] + ADMIN_THEN_STOP))
    (client,) = world.admins
    assert client.peer.never_accepted and not client.responses()


def test_an_admin_that_answers_nothing_at_a_stop_is_still_caught(monkeypatch):
    monkeypatch.setattr(admin.AdminProtocol, "data_received", lambda self, data: None)
    with pytest.raises(InvariantViolation) as caught:
        runtime.run(runtime.encode_actions(ADMIN_THEN_STOP))
    assert caught.value.name == "admin_request_unanswered", str(caught.value)
