"""The runtime harness holds a listener to accepting again after its accepts failed for want of
descriptors (fuzz/targets/runtime.py check_accepting_again): on the committed seeds the clean tree
takes every waiting client after its one-second pause; an accept loop planted to retry once and
never watch its socket again, or never to come back, leaves clients in the backlog and is caught."""

from pathlib import Path

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import runtime
from proxy import server

CORPUS = Path(__file__).resolve().parents[3] / "corpus" / "runtime"
SEEDS = sorted(p for p in CORPUS.iterdir() if "accept_fail" in p.name)


def _accept_resumed_by(resume):
    """SharedListener._accept whose pause after a resource error ends with `resume(self)`."""

    def _accept(self) -> None:
        try:
            conn, peer = self._sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError:
            self._loop.remove_reader(self._sock.fileno())
            self._resume = resume(self)
            return
        task = self._loop.create_task(self._adopt(conn, peer))
        self._adopting.add(task)
        task.add_done_callback(self._adopting.discard)

    return _accept


PLANTED = {
    "retries-once": lambda self: self._loop.call_later(1.0, self._accept),  # never re-watches the socket
    "never-resumes": lambda self: None,
}


def test_there_are_seeds_for_each_shape():
    assert {p.name.rsplit("-", 1)[0] for p in SEEDS} == {
        "accept_fails_with_clients_waiting",
        "accept_fails_then_a_client_after_the_pause",
        "admin_accept_fails",
    }


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name)
def test_the_clean_tree_accepts_again(seed):
    world = runtime.run(seed.read_bytes())
    assert world.kernel.accept_failures_made


@pytest.mark.parametrize("plant", sorted(PLANTED))
@pytest.mark.parametrize("shape", ["accept_fails_with_clients_waiting", "accept_fails_then_a_client_after_the_pause"])
def test_a_listener_that_stops_accepting_is_caught(monkeypatch, plant, shape):
    monkeypatch.setattr(server.SharedListener, "_accept", _accept_resumed_by(PLANTED[plant]))
    with pytest.raises(InvariantViolation) as err:
        runtime.run((CORPUS / f"{shape}-cap512").read_bytes())
    assert err.value.name == "runtime_listener_stopped_accepting"
