"""The HTTP connection manager's idle_timeout, judged at quiescence, as Envoy documents it.

HttpConnectionManager common_http_protocol_options.idle_timeout: "The idle timeout for connections.
The idle timeout is defined as the period in which there are no active requests. When the idle
timeout is reached the connection will be closed. If the connection is an HTTP/2 downstream
connection a drain sequence will occur prior to closing the connection"; counted in
http.<prefix>.downstream_cx_idle_timeout. Ours: idle_timeout_ms, 0 (unset) disables it
(bootstrap.proto HttpConnectionManager).

After a session settled (nothing in flight), every downstream HTTP connection with no active stream
and an idle timeout must be gone once that much more virtual time has passed: a connection left
open then is one whose idle timer was never armed again (connections and their memory pile up,
envoyproxy/envoy#9070). `idle_connection_not_closed`.
"""

from proxy.network.connection import State

from fuzz.oracles import InvariantViolation


ROUNDS = 3


def _grace_left(hcm, now: int) -> int:
    timer = hcm._held_timer
    return timer.deadline - now if timer is not None and timer.enabled else 0


def check_idle_connections_close(session) -> None:
    from fuzz import liveness, settle

    def idle_now():
        return [
            (sock, hcm)
            for sock, hcm in liveness.managers(session)
            if hcm.config.idle_timeout_ms and not hcm.streams and not hcm.closed and sock.conn.state is State.OPEN
        ]

    idle = idle_now()
    # Time runs an idle timeout's length past the last look, a few times over: bytes a fault filter
    # released meanwhile may have made a request on the connection, and its end re-armed the timer.
    for _ in range(ROUNDS):
        if not idle:
            return
        now = session.dispatcher.now_ms()
        # A connection going away with output the client's HTTP/2 window holds closes by its own
        # grace period (the HCM's delayed close), which may end after the idle timeout.
        longest = max(max(hcm.config.idle_timeout_ms, _grace_left(hcm, now)) for _, hcm in idle)
        session.dispatcher.advance(longest + 1)
        session.dispatcher.run_posted()
        settle.settle(session)  # the peers read the GOAWAY and see the close
        idle = idle_now()
    now = session.dispatcher.now_ms()
    for sock, hcm in idle:  # Closing: it is going
        timer = hcm._idle_timer
        if timer is not None and timer.enabled and now < timer.deadline <= now + hcm.config.idle_timeout_ms:
            continue  # re-armed by a request that ended in the last round: it will close in time
        raise InvariantViolation(
            "idle_connection_not_closed",
            f"downstream {sock.conn!r} had no active request for {hcm.config.idle_timeout_ms + 1} ms "
            f"({ROUNDS} times over), its idle_timeout_ms is {hcm.config.idle_timeout_ms}, and it is still open",
            expected="closed (downstream_cx_idle_timeout)",
            observed="open",
        )
