"""The runtime harness (fuzz/targets/runtime.py): its seeds replay clean (tests/fuzz/test_corpus_replay.py),
and a defect planted in the transports, the server or the admin makes a seed fail its oracle."""

import asyncio
from pathlib import Path

import h11
import pytest

from fuzz.oracles import InvariantViolation
from fuzz.targets import runtime, runtime_admin
from proxy import _server_socket, admin
from proxy.http import h1

CORPUS = Path(__file__).resolve().parents[3] / "corpus" / "runtime"


def _fails(seed: str) -> str:
    with pytest.raises(InvariantViolation) as err:
        runtime.run((CORPUS / seed).read_bytes())
    return err.value.name


def test_a_seed_runs_the_server_the_admin_and_the_reference():
    world = runtime.run((CORPUS / "admin_two_clients_and_traffic-cap512").read_bytes())
    assert world.clients[0].received.startswith(b"back:hello") and world.upstreams[0].received == b"hello"
    assert [status for _, status, _, _ in world.admins[0].responses()] == [200, 200]


def test_the_reference_reads_an_upstreams_end_before_reusing_its_connection():
    """The upstream closes right after a large response a slow client takes 512 bytes at a time; the
    client's next request waits for a second connection. The runtime learns of the close before the
    resting connection is reused; the reference once ran that reuse one read early, sent the request
    to the closed connection and answered 503, and the differential failed (CI, 2022f90)."""
    world = runtime.run((CORPUS / "http_upstream_closes_after_response_next_request_waits-cap512").read_bytes())
    received = bytes(world.clients[0].received)
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and received.endswith(b"z" * 20000)
    assert received.count(b"HTTP/1.1 ") == 1  # the second request waits: no 503 "upstream reset"


def test_a_socket_never_paused_is_caught(monkeypatch):
    """The upstream reads nothing: a transport that keeps reading the client holds all it sent."""
    monkeypatch.setattr(_server_socket.SocketTransport, "_pause_socket", lambda self: None)
    assert _fails("tcp_upstream_stops_reading-cap65536") == "runtime_input_held"


def test_writing_past_the_kernels_refusal_is_caught(monkeypatch):
    """The client reads nothing: a flush that ignores pause_writing piles output into asyncio."""

    def flush(self):
        conn, t = self.conn, self.transport
        if conn is None or t is None or t.is_closing():
            return
        while data := conn.take_output(_server_socket.WRITE_CHUNK):
            t.write(data)

    monkeypatch.setattr(_server_socket.SocketTransport, "_flush", flush)
    assert _fails("tcp_client_stops_reading-cap512") == "runtime_output_held"


def test_a_connect_left_running_after_its_connection_closed_is_caught(monkeypatch):
    """The connect timeout closes the connection: its connect must be cancelled, its socket closed."""
    monkeypatch.setattr(_server_socket.UpstreamTransport, "closed", _server_socket.SocketTransport.closed)
    assert _fails("tcp_connect_timeout-cap65536") in ("runtime_connect_leak", "runtime_differs_from_sim")


def test_a_secret_in_the_config_dump_is_caught(monkeypatch):
    monkeypatch.setattr(admin, "redact", lambda message, sensitive=False: None)
    assert _fails("admin_every_request-cap65536") == "admin_secret_in_config_dump"


def test_an_admin_closing_at_the_clients_half_close_is_caught(monkeypatch):
    """The defect the harness found: pipelined requests, then a half close, answered only in part."""

    def eof_received(self):
        self.h11.receive_data(b"")
        self._schedule()
        return False

    monkeypatch.setattr(admin.AdminProtocol, "eof_received", eof_received)
    assert _fails("admin_burst_then_half_close-cap65536") == "admin_request_unanswered"


def test_a_half_close_not_passed_on_is_caught(monkeypatch):
    """The client half-closes: an upstream transport that never writes the FIN differs from the
    in-memory reference, where the upstream sees the end (runtime_differs_from_sim)."""
    flush = _server_socket.SocketTransport._flush

    def no_upstream_eof(self):
        self._eof_sent = self._eof_sent or self.conn.is_client  # as if written
        flush(self)

    monkeypatch.setattr(_server_socket.SocketTransport, "_flush", no_upstream_eof)
    assert _fails("tcp_client_half_close_upstream_answers-cap4096") == "runtime_differs_from_sim"


def test_output_left_after_resume_writing_is_caught(monkeypatch):
    """asyncio says the kernel took everything: a transport that does not flush again leaves output."""
    monkeypatch.setattr(
        _server_socket.SocketTransport, "resume_writing", lambda self: setattr(self, "_write_blocked", False)
    )
    assert _fails("http_client_stops_reading_large_response-cap4096") == "runtime_stall_output"


def test_stats_formats_that_disagree_are_caught(monkeypatch):
    text_and_json = admin.AdminHandler._stats

    def counters_only_in_json(self, fmt, query):
        status, ctype, body = text_and_json(self, fmt, query)
        if fmt == "json":
            body = body.replace(b'"server.buffered_bytes"', b'"server.buffered"')
        return status, ctype, body

    monkeypatch.setattr(admin.AdminHandler, "_stats", counters_only_in_json)
    assert _fails("admin_every_request-cap65536") == "admin_stats_formats_differ"


def test_stats_filter_ignored_is_caught(monkeypatch):
    """Envoy's /stats?filter=REGEX lists only the names the regex matches (the admin before 12-04e
    listed every stat)."""
    stats = admin.AdminHandler._stats
    monkeypatch.setattr(admin.AdminHandler, "_stats", lambda self, fmt, query: stats(self, fmt, {}))
    assert _fails("admin_every_request-cap65536") == "admin_stats_filter"


def test_a_filtered_answer_is_held_to_every_name_it_matches():
    """A filtered /stats beside an unfiltered JSON one of the same moment: every name the filter
    matches is listed (Envoy's filter is a partial match, not a whole-name one)."""
    as_json = {"http.in.downstream_rq_total": 3, "server.buffered_bytes": 0}
    wanted = runtime_admin.names_asked("/stats?filter=rq_&format=text")
    runtime_admin.check_stats_agree({"http.in.downstream_rq_total": 3}, as_json, wanted)
    with pytest.raises(InvariantViolation, match="admin_stats_formats_differ"):
        runtime_admin.check_stats_agree({}, as_json, runtime_admin.names_asked("/stats?filter=rq_"))


def test_clusters_counts_that_are_not_the_stats_are_caught(monkeypatch):
    # The bug class (PLANT_L round 8, admin-clusters-active-reads-counter): /clusters reads a gauge from
    # the counter store beside it, so upstream_cx_active reads 0 while /stats shows the open connection.
    from proxy.stats import Stats

    clusters = admin.AdminHandler._clusters

    def gauges_as_counters(self, fmt):
        stats = self.server.ctx.stats
        monkeypatch.setattr(stats, "gauge", Stats.counter.__get__(stats))
        try:
            return clusters(self, fmt)
        finally:
            monkeypatch.delattr(stats, "gauge")

    runtime.run((CORPUS / "admin_two_clients_and_traffic-cap4096").read_bytes())
    monkeypatch.setattr(admin.AdminHandler, "_clusters", gauges_as_counters)
    assert _fails("admin_two_clients_and_traffic-cap4096") == "admin_clusters_differ_from_stats"


def test_shared_seeds_ask_the_parent_of_one_worker():
    """-shared inputs: the admin is the parent of --concurrency 1, answering from WorkerSide's snapshots."""
    world = runtime.run((CORPUS / "admin_every_request-shared").read_bytes())
    assert world.parent is not None and world.parent.task is not None and world.parent.task.done()
    statuses = [status for _, status, _, _ in world.admins[0].responses()]
    assert statuses[:3] == [200, 200, 200] and 500 not in statuses


def test_a_second_stop_through_the_parent_ends_the_drain():
    """Shared mode: a stop is SIGTERM to the parent; the second one reaches WorkerSide as `close`."""
    once = runtime.run((CORPUS / "stop_with_open_connections-shared").read_bytes())
    twice = runtime.run((CORPUS / "stop_twice_with_open_connections-shared").read_bytes())
    assert once.loop.us >= 5_000_000 > 1_000_000 > twice.loop.us  # the 5 s drain, then ended at once


def _progress_armed_only_inside_a_request(self):
    """The admin's stream idle timer armed only once h11 has a whole head: bytes of one not yet
    complete leave h11 IDLE, so a client that sends half a request and waits is never timed out."""
    if self._idle is not None:
        self._idle.cancel()
        self._idle = None
    if self._backed_up or self._waiting is not None or self.h11.their_state is not h11.IDLE:
        self._idle = asyncio.get_running_loop().call_later(admin.STREAM_IDLE_TIMEOUT_S, self._idle_timeout)


@pytest.mark.parametrize(
    "seed", ["admin_partial_request_line_goes_quiet-cap65536", "admin_unfinished_head_times_out-cap512"]
)
def test_an_admin_holding_an_unfinished_request_for_good_is_caught(monkeypatch, seed):
    monkeypatch.setattr(admin.AdminProtocol, "_progress", _progress_armed_only_inside_a_request)
    assert _fails(seed) == "admin_unfinished_request_held"


def test_the_parents_admin_holding_an_unfinished_request_is_caught(monkeypatch):
    monkeypatch.setattr(admin.AdminProtocol, "_progress", _progress_armed_only_inside_a_request)
    assert _fails("admin_partial_request_line_goes_quiet-shared") == "admin_unfinished_request_held"


@pytest.mark.parametrize(
    ("sent", "unfinished"),
    [
        (b"", False),
        (b"GET /sta", True),
        (b"GET /stats HTTP/1.1\r\nHost: a\r\n\r\n", False),
        (b"GET /stats HTTP/1.1\r\nHost: a\r\n\r\nGET /rea", True),
        (b"POST /stats HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nab", True),
        (b"GET /stats HTTP/1.0\r\n\r\nGET /sta", False),  # the admin closes after the HTTP/1.0 answer
        (b"\x00\x01 garbage\r\n\r\n", True),  # a 400 and the close, at once
    ],
)
def test_what_counts_as_a_request_left_unfinished(sent, unfinished):
    from fuzz.targets.runtime_admin import leaves_a_request_unfinished

    assert leaves_a_request_unfinished(sent) is unfinished


def test_the_reference_runs_the_time_the_admins_timeout_ran():
    """The admin's timeout check runs time at rest, and the data plane's timers fire then (here a 408
    to a half-sent request); the reference runs the same time (a 60 s run of 23b8b76 failed
    runtime_differs_from_sim when it did not)."""
    world = runtime.run((CORPUS / "admin_and_data_plane_requests_go_quiet-cap65536").read_bytes())
    assert world.rest_ms and world.clients[0].received.startswith(b"HTTP/1.1 408 ")


def test_a_reference_that_stops_before_that_time_differs(monkeypatch):
    real = runtime.run_reference
    monkeypatch.setattr(
        runtime, "run_reference", lambda built, capacity, actions, rest_ms=0: real(built, capacity, actions)
    )
    assert _fails("admin_and_data_plane_requests_go_quiet-cap65536") == "runtime_differs_from_sim"


def _h11_alone(self) -> bytes:
    """The admin before BLACKBOX round 13: h11 read whatever the client sent, unchecked."""
    held = bytes(self._in)
    self._in.clear()
    return held


def test_an_admin_reading_what_the_listeners_refuse_is_caught(monkeypatch):
    """Content-Length beside chunked, obs-fold and bare LF, each with a `GET /config_dump` behind it:
    an admin parsing with h11 alone answered the request behind (and kept the connection)."""
    monkeypatch.setattr(h1.RequestGate, "take", _h11_alone)
    assert (
        _fails("regress-admin-request-behind-one-the-listeners-refuse") == "admin_reads_a_request_the_listeners_refuse"
    )


def test_an_admin_answering_the_refused_request_itself_is_caught():
    client = runtime_admin.AdminClient(None)

    class Peer:
        sent = b"GET /stats HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"
        received = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"

    client.peer = Peer()
    with pytest.raises(InvariantViolation, match="obs-fold|fold"):
        runtime_admin.check_refused_framing(client)
    Peer.received = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"
    runtime_admin.check_refused_framing(client)  # its refusal is what it may answer
