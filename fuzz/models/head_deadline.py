"""A request head's deadline runs from its first byte, judged after every action.

fuzz/models/idle.py judges heads at quiescence: a head nothing more arrives for must end by the stream
idle timeout. That cannot see a head that keeps arriving: a client that sends one byte of its head
every fraction of the timeout (slowloris, CVE-2007-6750) is never quiet. What a user relies on is the
bound itself (docs/semantics.md; Envoy makes the stream at a request's first byte, and its stream idle
timer and request_headers_timeout are not restarted by bytes of a head that is not whole): once the
proxy has held part of a head for longer than stream_idle_timeout_ms, the head is answered with a 408
and the connection closed, however its bytes were spread. `request_head_outlived_its_deadline`.

The deadline is counted from the first check that sees the head both sent (the client's record says a
head is arriving) and held by the connection manager's codec, with no network filter timer holding its
bytes before the manager (a fault delay): a moment no earlier than the proxy's own start, so a late
verdict is never early. Only heads that received bytes since are judged here: a head that went quiet
is idle.py's `request_head_not_timed_out`.
"""

from proxy.network.connection import State

from fuzz.oracles import InvariantViolation

from .hcm_settings import timeout_ms
from .idle import _head_arriving


def check_head_deadlines(session) -> None:
    from fuzz import liveness

    now = session.dispatcher.now_ms()
    for sock, hcm in liveness.managers(session):
        arriving = (
            not hcm.streams
            and not hcm.closed
            and sock.conn.state is State.OPEN
            and hcm.codec.request_started
            and _head_arriving(session, sock)
            and not liveness.filter_timer_armed(sock.conn)
        )
        if not arriving:
            sock.fuzz_head_since = None
            continue
        since = getattr(sock, "fuzz_head_since", None)
        if since is None:
            sock.fuzz_head_since, sock.fuzz_head_sent = now, len(sock.sent)
            continue
        trickled = len(sock.sent) > sock.fuzz_head_sent  # a quiet head is idle.py's (request_head_not_timed_out)
        limit = timeout_ms(session, sock, hcm, "stream_idle_timeout_ms")
        if trickled and limit and now - since > limit:
            raise InvariantViolation(
                "request_head_outlived_its_deadline",
                f"downstream {sock.conn!r}: the proxy has held part of a request head for {now - since} ms, "
                f"more than its stream_idle_timeout_ms {limit}, and the connection is still open",
                judged="proxy/http/conn_manager.py:HttpConnectionManager._watch_request_start",
                expected="408 and a close once the timeout ran from the head's first byte",
                observed="open",
            )
