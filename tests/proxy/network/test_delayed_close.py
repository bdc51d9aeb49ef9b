"""Connection.set_delayed_close_timeout (Envoy's delayed_close_timeout, which the HTTP connection
manager sets): a FLUSH_WRITE close with output pending ends after `ms` without progress; every byte
the peer takes restarts the period; without it the close waits for the flush as long as it takes."""

from proxy.network.connection import CloseType, ConnectionEvent, State
from proxy.network.filter import STOP_ITERATION, WriteFilter

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


class _Pacer(WriteFilter):
    """Holds every write until told to let it go (as the fault filter's throttle does)."""

    def __init__(self) -> None:
        self.held = b""

    def on_write(self, data, end_stream):
        self.held += data.take()
        return STOP_ITERATION

    def holds_writes(self) -> bool:
        return bool(self.held)

    def release(self) -> None:
        held, self.held = self.held, b""
        self.write_callbacks.inject_write_data_to_filter_chain(held, False)


def test_output_a_write_filter_paces_does_not_count_against_the_peer():
    d, conn = new_connection()
    pacer = _Pacer()
    conn.add_write_filter(pacer)
    conn.set_delayed_close_timeout(1000)
    conn.write(b"x" * 100)
    conn.close(CloseType.FLUSH_WRITE)
    d.advance(5000)
    assert conn.state is State.CLOSING  # the filter still holds it: not the peer's stall
    pacer.release()
    d.advance(1000)  # now the peer takes nothing for the whole period
    assert conn.state is State.CLOSED and conn.stream_info.get("delayed_close_timeout")
