"""Core fix: a read filter chain sees the peer's end of stream once (Envoy's read_end_stream_raised_).

Before the fix, re-enabling reads after a half-closed peer re-dispatched an empty buffer with
end_stream=True, so a terminal filter forwarded end_stream twice (a write after end_stream)."""

from netscript import Recorder, drain, new_connection


def test_end_stream_reaches_the_filters_once_even_when_reads_are_re_enabled():
    log = []
    d, conn = new_connection(half_close=True)
    conn.add_read_filter(Recorder("a", log, on_data=drain()))
    conn.initialize_read_filters()
    conn.io.peer_send(b"x", end_stream=True)
    conn.read_disable(True)
    conn.read_disable(False)
    d.run_posted()
    assert log == [("a", "new"), ("a", "data", b"x", True)]


def test_data_buffered_before_end_stream_is_still_re_dispatched_with_it():
    log = []
    d, conn = new_connection(half_close=True)
    conn.add_read_filter(Recorder("a", log, on_data=drain()))
    conn.initialize_read_filters()
    conn.read_disable(True)
    conn.io.peer_send(b"held", end_stream=True)  # not read while disabled
    assert log == [("a", "new")]
    conn.read_disable(False)
    d.run_posted()
    assert log == [("a", "new"), ("a", "data", b"held", True)]


def test_buffered_data_is_re_dispatched_when_only_the_read_watermark_still_disables_reads():
    # Core fix: Envoy re-dispatches the read buffer on readDisable(false) whenever the filter
    # chain wants data again, including when the buffer's own high watermark is the last reason.
    log = []
    d, conn = new_connection(buffer_limit=1024)
    conn.add_read_filter(Recorder("holder", log))  # never drains
    conn.initialize_read_filters()
    conn.io.read_size = 2000
    conn.io.peer_send(b"x" * 2000)  # above high: the connection disables its own reads
    assert conn.read_disable_count == 1 and conn.read_buffer.above_high_watermark
    conn.read_disable(True)  # someone else pauses it too
    conn.read_disable(False)  # ...and resumes: the chain wants data again
    log.clear()
    d.run_posted()
    assert log == [("holder", "data", b"x" * 2000, False)]
