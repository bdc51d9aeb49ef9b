"""One test per network filter iteration rule of docs/architecture.md
("Network filter iteration rules"), in script style:
events in (bytes from the peer, filter statuses), the calls filters receive out."""

import pytest

from proxy.network.connection import CloseType, ConnectionEvent, State
from proxy.network.filter import CONTINUE, STOP_ITERATION, ConnectionCallbacks, ReadFilter
from proxy.network.filter_manager import FilterReentryError

from netscript import Recorder, drain, new_connection


def test_read_filters_run_first_added_first():
    log = []
    d, conn = new_connection()
    for name in "abc":
        conn.add_read_filter(Recorder(name, log))
    conn.initialize_read_filters()
    log.clear()
    conn.io.peer_send(b"x")
    assert [e[0] for e in log] == ["a", "b", "c"]


def test_write_filters_run_last_added_first():
    log = []
    d, conn = new_connection()
    for name in "abc":
        conn.add_write_filter(Recorder(name, log))
    conn.write(b"out")
    assert log == [("c", "write", b"out", False), ("b", "write", b"out", False), ("a", "write", b"out", False)]
    assert conn.write_buffer.bytes() == b"out"


def test_on_new_connection_is_lazy_and_precedes_on_data():
    log = []
    d, conn = new_connection()
    conn.add_read_filter(Recorder("a", log, on_new=STOP_ITERATION))
    conn.add_read_filter(Recorder("b", log))
    conn.initialize_read_filters()
    # "a" stopped in on_new_connection: "b" has not been reached, so it has not seen it yet.
    assert log == [("a", "new")]
    conn.io.peer_send(b"hello")
    # The next iteration reaches "b": its on_new_connection comes before its first on_data.
    assert log == [("a", "new"), ("a", "data", b"hello", False), ("b", "new"), ("b", "data", b"hello", False)]


def test_on_data_gets_the_whole_buffer_until_a_later_filter_drains_it():
    log = []
    d, conn = new_connection()
    conn.add_read_filter(Recorder("a", log))
    conn.add_read_filter(Recorder("b", log, on_data=STOP_ITERATION))  # does not drain
    conn.initialize_read_filters()
    log.clear()
    conn.io.peer_send(b"one")
    conn.io.peer_send(b"two")
    assert log[-2:] == [("a", "data", b"onetwo", False), ("b", "data", b"onetwo", False)]


def test_a_terminal_filter_that_drains_means_each_byte_is_seen_once():
    log = []
    d, conn = new_connection()
    conn.add_read_filter(Recorder("a", log))
    conn.add_read_filter(Recorder("terminal", log, on_data=drain(STOP_ITERATION)))
    conn.initialize_read_filters()
    log.clear()
    conn.io.peer_send(b"one")
    conn.io.peer_send(b"two")
    assert [e[2] for e in log if e[0] == "a"] == [b"one", b"two"]


def test_on_data_is_skipped_when_the_buffer_is_empty_and_no_end_stream():
    log = []
    d, conn = new_connection()
    conn.add_read_filter(Recorder("a", log, on_data=drain()))
    conn.add_read_filter(Recorder("b", log))
    conn.initialize_read_filters()
    conn.io.peer_send(b"x")
    # "a" drained everything: "b" gets on_new_connection at initialize but no empty on_data.
    assert ("b", "data", b"", False) not in log
    assert log == [("a", "new"), ("b", "new"), ("a", "data", b"x", False)]


def test_on_data_is_called_with_an_empty_buffer_at_end_stream():
    log = []
    d, conn = new_connection(half_close=True)
    conn.add_read_filter(Recorder("a", log))
    conn.initialize_read_filters()
    conn.io.peer_close()
    assert log[-1] == ("a", "data", b"", True)


def test_stop_iteration_is_not_wait_the_next_read_starts_at_the_first_filter():
    log = []
    d, conn = new_connection()
    conn.add_read_filter(Recorder("a", log))
    conn.add_read_filter(Recorder("b", log, on_data=STOP_ITERATION))
    conn.add_read_filter(Recorder("c", log, on_data=drain()))
    conn.initialize_read_filters()
    log.clear()
    conn.io.peer_send(b"1")
    assert [e[0] for e in log] == ["a", "b"]
    log.clear()
    conn.io.peer_send(b"2")
    # Not resumed at "c": iteration starts again at "a".
    assert [e[0] for e in log] == ["a", "b"]


def test_iteration_stops_when_the_connection_closes():
    log = []
    d, conn = new_connection()

    def close(buf, end_stream):
        conn.close(CloseType.NO_FLUSH)
        return CONTINUE  # even CONTINUE does not reach "b" on a closed connection

    conn.add_read_filter(Recorder("a", log, on_data=close))
    conn.add_read_filter(Recorder("b", log))
    conn.initialize_read_filters()
    log.clear()
    conn.io.peer_send(b"x")
    assert log == [("a", "data", b"x", False)]
    assert conn.state is State.CLOSED
    conn.io.peer_send(b"more")
    assert log == [("a", "data", b"x", False)]  # no filter is called after close


def test_continue_reading_resumes_at_the_next_filter_with_the_whole_buffer():
    log = []
    d, conn = new_connection()
    a = Recorder("a", log, on_data=STOP_ITERATION)
    conn.add_read_filter(a)
    conn.add_read_filter(Recorder("b", log))
    conn.initialize_read_filters()
    conn.io.peer_send(b"first")
    conn.io.peer_send(b"second")
    log.clear()
    a.callbacks.continue_reading()
    assert log == [("b", "data", b"firstsecond", False)]


def test_inject_read_data_passes_exactly_the_data_to_later_filters_bypassing_the_buffer():
    log = []
    d, conn = new_connection()
    a = Recorder("a", log, on_data=STOP_ITERATION)
    conn.add_read_filter(a)
    conn.add_read_filter(Recorder("b", log))
    conn.add_read_filter(Recorder("c", log))
    conn.initialize_read_filters()
    conn.io.peer_send(b"buffered")
    log.clear()
    a.callbacks.inject_read_data_to_filter_chain(b"injected", True)
    assert log == [("b", "data", b"injected", True), ("c", "data", b"injected", True)]
    assert conn.read_buffer.bytes() == b"buffered"


def test_inject_write_data_passes_exactly_the_data_to_later_write_filters_then_the_wire():
    log = []
    d, conn = new_connection()
    first_added = Recorder("first_added", log)
    second_added = Recorder("second_added", log, on_write=STOP_ITERATION)
    conn.add_write_filter(first_added)
    conn.add_write_filter(second_added)  # runs first on writes, drops every chunk
    conn.write(b"dropped")
    assert conn.write_buffer.bytes() == b""
    log.clear()
    second_added.write_callbacks.inject_write_data_to_filter_chain(b"injected", False)
    assert log == [("first_added", "write", b"injected", False)]
    assert conn.write_buffer.bytes() == b"injected"


def test_on_write_gets_the_new_chunk_and_stop_iteration_drops_it():
    log = []
    d, conn = new_connection()
    conn.add_write_filter(
        Recorder("w", log, on_write=lambda buf, es: STOP_ITERATION if buf.bytes() == b"drop" else CONTINUE)
    )
    conn.write(b"keep1")
    conn.write(b"drop")
    conn.write(b"keep2")
    assert [e[2] for e in log] == [b"keep1", b"drop", b"keep2"]  # each chunk, not the accumulated buffer
    assert conn.write_buffer.bytes() == b"keep1keep2"


def test_continue_reading_from_inside_the_filters_own_callback_is_refused():
    class InlineCheck(ReadFilter):
        def on_data(self, data, end_stream):
            self.callbacks.continue_reading()  # the bug Envoy's rate-limit filter guards against
            return CONTINUE

    d, conn = new_connection()
    conn.add_read_filter(InlineCheck())
    conn.initialize_read_filters()
    with pytest.raises(FilterReentryError):
        conn.io.peer_send(b"x")


def test_connected_is_an_event_distinct_from_on_new_connection():
    log = []

    class Events(ConnectionCallbacks):
        def on_event(self, event):
            log.append(("event", event))

    d, conn = new_connection()
    conn.add_connection_callbacks(Events())
    conn.add_read_filter(Recorder("a", log))
    conn.initialize_read_filters()
    assert log == [("a", "new")]
    conn.on_connected()
    assert log == [("a", "new"), ("event", ConnectionEvent.CONNECTED)]


def test_remote_and_local_close_events():
    events = []

    class Events(ConnectionCallbacks):
        def on_event(self, event):
            events.append(event)

    d, c1 = new_connection()
    c1.add_connection_callbacks(Events())
    c1.io.peer_reset()
    d, c2 = new_connection()
    c2.add_connection_callbacks(Events())
    c2.close()
    assert events == [ConnectionEvent.REMOTE_CLOSE, ConnectionEvent.LOCAL_CLOSE]


def test_end_of_stream_without_half_close_delivers_data_then_closes_remotely():
    log = []
    d, conn = new_connection(half_close=False)
    conn.add_read_filter(Recorder("a", log))
    conn.initialize_read_filters()
    conn.io.peer_send(b"last", end_stream=True)
    assert log[-1] == ("a", "data", b"last", False)
    assert conn.close_event is ConnectionEvent.REMOTE_CLOSE


def test_flush_write_close_waits_for_the_transport_to_drain():
    d, conn = new_connection()
    conn.on_connected()
    conn.write(b"bye")
    conn.close(CloseType.FLUSH_WRITE)
    assert conn.state is State.CLOSING
    assert conn.io.peer_read() == b"bye"
    assert conn.close_event is ConnectionEvent.LOCAL_CLOSE
