"""The workers harness (fuzz/targets/workers.py): its seeds replay clean, and a defect planted in the
supervisor of `--concurrency N` (proxy/workers.py) makes a seed fail its oracle."""

import asyncio
import json
import os
from pathlib import Path

import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import workers, workers_seeds
from proxy import workers as proxy_workers

CORPUS = Path(__file__).resolve().parents[3] / "corpus" / "workers"


def _fails(seed: str) -> str:
    with pytest.raises(InvariantViolation) as err:
        workers.run((CORPUS / seed).read_bytes())
    return err.value.name


def test_the_committed_seeds_are_the_scripts(tmp_path):
    for path in workers_seeds.write(tmp_path):
        assert (CORPUS / path.name).read_bytes() == path.read_bytes(), path.name


def test_a_seed_stops_every_worker_and_sums_their_stats():
    world = workers.run((CORPUS / "clean_stop").read_bytes())
    assert world.task is not None and world.task.result() == 0
    assert [w.state for w in world.sims] == ["exited", "exited"]
    [request] = world.admins
    assert (
        request.answer.startswith(b"HTTP/1.1 200 ") and b"fuzz.messages: 22\n" in request.answer
    )  # both answer with message 2: 2 * (2 * 2 + 7)


def test_a_slow_worker_gets_a_503_naming_it_after_the_timeout():
    world = workers.run((CORPUS / "slow_worker_503").read_bytes())
    answer = world.admins[0]
    assert b"worker 1 (pid 4001) did not answer within 2.0 s" in answer.answer
    assert answer.answered_at is not None and answer.answered_at - answer.at == pytest.approx(2.0, abs=0.26)


def test_signalling_a_worker_that_stopped_is_caught(monkeypatch):
    """5e36346's race as the supervisor had it: worker 1 exits 0 on a signal of its own and the parent
    sends SIGTERM to worker 0, which had drained and closed its channel."""

    def signal_running(self, signum):
        for w in self.workers:
            if w.exit_code is None:
                self.processes.kill(w.pid, signum)

    monkeypatch.setattr(proxy_workers._Supervisor, "_signal_running", signal_running)
    assert _fails("group_signal_one_stops") == "worker_signalled_after_it_stopped"


def test_a_snapshot_summed_twice_is_caught(monkeypatch):
    summed = proxy_workers._summed

    def twice(supervisor, snapshots):  # a gone worker's last message counted once more
        gone = [s for s, w in zip(snapshots, supervisor.workers) if w.writer is None]
        return summed(supervisor, list(snapshots) + gone)

    monkeypatch.setattr(proxy_workers, "_summed", twice)
    assert _fails("killed_mid_message") == "admin_stats_not_the_sum"


def test_a_killed_worker_not_reported_is_caught(monkeypatch):
    """os.WEXITSTATUS alone reads a worker killed by a signal as exit 0."""
    monkeypatch.setattr(os, "waitstatus_to_exitcode", lambda status: status >> 8)
    assert _fails("exit_during_request") == "supervisor_exit_status"


def test_a_second_signal_that_does_not_end_the_drain_is_caught(monkeypatch):
    monkeypatch.setattr(proxy_workers._Supervisor, "_on_signal", lambda self: self._stop())
    assert _fails("second_signal_ends_drain") == "second_signal_did_not_end_drain"


def test_half_a_message_from_a_killed_worker_is_caught(monkeypatch):
    """The defect the harness found: json.loads raised in the channel's reader."""
    monkeypatch.setattr(proxy_workers, "_message", json.loads)
    assert _fails("killed_mid_message") in ("supervisor_unhandled_error", "admin_503_for_a_gone_worker")


def test_a_stale_snapshot_is_caught(monkeypatch):
    """The parent answers from the messages it has instead of asking."""

    async def snapshots(self, timeout):
        return [
            w.last or {"started": False, "draining": False, "counters": {}, "gauges": {}, "buffered_bytes": 0}
            for w in self.workers
        ]

    monkeypatch.setattr(proxy_workers._Supervisor, "snapshots", snapshots)
    assert _fails("late_answer") == "admin_stats_stale_or_foreign"


def test_ready_said_before_every_worker_is_caught(monkeypatch):
    """'proxy: ready' on each worker's first message, not once all are ready."""

    async def read(self, w):
        reader, w.writer = await asyncio.open_connection(sock=w.channel, limit=1 << 24)
        while line := await proxy_workers._readline(reader):
            message = proxy_workers._message(line)
            if message is None:
                continue
            first, w.last = w.last is None, message
            reply = w.replies.pop(message["id"], None)
            if reply is not None and not reply.done():
                reply.set_result(message)
            if first:
                proxy_workers.say("proxy: ready")
        w.writer, w.hung_up = None, True
        for reply in w.replies.values():
            if not reply.done():
                reply.set_result(w.last)

    monkeypatch.setattr(proxy_workers._Supervisor, "_read", read)
    assert _fails("clean_stop") == "supervisor_ready_twice"


def test_a_failed_worker_that_stops_nobody_is_caught(monkeypatch):
    # The bug class (PLANT_L round 8, workers-failed-worker-leaves-others-serving): the parent stops
    # the others only when a worker exited 0 on its own, so a crashed worker leaves the rest serving
    # (the harness's final stop then hid it).
    reap = proxy_workers._Supervisor._reap

    def reap_without_stopping_on_failure(self):
        stop = self._stop
        self._stop = lambda: None if any(w.exit_code not in (None, 0) for w in self.workers) else stop()
        try:
            reap(self)
        finally:
            del self._stop

    monkeypatch.setattr(proxy_workers._Supervisor, "_reap", reap_without_stopping_on_failure)
    assert _fails("worker_exits_1") == "worker_exit_left_others_running"


def _summed_with(started, monkeypatch) -> None:
    """Plant /ready's quantifier: `started(snapshots)` decides whether the summed server started."""
    real = proxy_workers._summed

    def summed(supervisor, snapshots):
        out = real(supervisor, snapshots)
        out.started = started(snapshots)
        return out

    monkeypatch.setattr(proxy_workers, "_summed", summed)


def test_ready_live_while_a_worker_is_still_starting_is_caught(monkeypatch):
    _summed_with(lambda snapshots: any(s["started"] for s in snapshots), monkeypatch)
    assert _fails("ready_while_one_worker_starts") == "admin_ready_before_every_worker"


def test_ready_503_while_every_worker_serves_is_caught(monkeypatch):
    _summed_with(lambda snapshots: len(snapshots) > 2 and all(s["started"] for s in snapshots), monkeypatch)
    assert _fails("ready_while_one_worker_starts") == "admin_not_ready_while_every_worker_serves"
