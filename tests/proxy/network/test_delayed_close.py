"""Connection.set_delayed_close_timeout (Envoy's delayed_close_timeout, which the HTTP connection
manager sets): a FLUSH_WRITE close with output pending ends after `ms` without progress; every byte
the peer takes restarts the period; without it the close waits for the flush as long as it takes."""

from proxy.network.connection import CloseType, ConnectionEvent, State

from netscript import new_connection


def closing(timeout_ms: int):
    d, conn = new_connection()
    conn.set_delayed_close_timeout(timeout_ms)
    conn.write(b"x" * 10_000)
    conn.close(CloseType.FLUSH_WRITE)
    assert conn.state is State.CLOSING
    return d, conn


def test_a_peer_that_takes_nothing_is_closed_after_the_timeout():
    d, conn = closing(1000)
    d.advance(999)
    assert conn.state is State.CLOSING
    d.advance(1)
    assert (conn.state, conn.close_event, conn.stream_info.get("delayed_close_timeout")) == (
        State.CLOSED,
        ConnectionEvent.LOCAL_CLOSE,
        True,
    )


def test_progress_restarts_the_period_and_a_full_flush_closes_at_once():
    d, conn = closing(1000)
    d.advance(900)
    conn.io.peer_read(100)
    d.advance(900)
    assert conn.state is State.CLOSING
    conn.io.peer_read()
    assert conn.state is State.CLOSED and not conn.stream_info.get("delayed_close_timeout")
    d.advance(5000)  # the disarmed timer never fires


def test_without_a_timeout_the_flush_waits():
    d, conn = closing(0)
    d.advance(3_600_000)
    assert conn.state is State.CLOSING
