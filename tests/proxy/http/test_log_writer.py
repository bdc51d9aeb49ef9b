"""proxy/http/log_writer.py: lines go out in order off the caller's thread, a stalled stream never
blocks put(), the bounded queue drops (counted) and write errors are counted."""

import contextlib
import io
import threading

from proxy.http.log_writer import LineWriter, flush_all


class _Stalled(io.StringIO):
    """A stream whose writes wait until released, as a pipe nobody drains."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, s: str) -> int:
        self.release.wait(10)
        return super().write(s)


class _Broken(io.StringIO):
    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_lines_arrive_in_order_and_flush_waits_for_them():
    stream = io.StringIO()
    writer = LineWriter(stream, contextlib.nullcontext())
    for i in range(500):
        writer.put(f"line {i}\n")
    flush_all(5)
    assert stream.getvalue() == "".join(f"line {i}\n" for i in range(500))
    assert writer.take_counts() == (0, 0)


def test_a_stalled_stream_never_blocks_put_and_the_full_queue_drops():
    stream = _Stalled()
    writer = LineWriter(stream, contextlib.nullcontext(), limit=100)
    for _ in range(30):
        writer.put("x" * 9 + "\n")  # returns at once although nothing can be written
    assert writer.flush(0.05) is False
    failed, dropped = writer.take_counts()
    assert failed == 0 and 19 <= dropped <= 20  # 10 lines queued, one more maybe taken by the thread
    stream.release.set()
    assert writer.flush(5)
    assert stream.getvalue() == ("x" * 9 + "\n") * (30 - dropped)


def test_write_errors_are_counted_not_raised():
    writer = LineWriter(_Broken(), contextlib.nullcontext())
    for _ in range(4):
        writer.put("lost\n")
    assert writer.flush(5)
    assert writer.take_counts() == (4, 0)


def test_a_reopen_sends_later_lines_to_the_fresh_stream():
    streams = [io.StringIO()]

    def reopen():
        streams.append(io.StringIO())
        return streams[-1]

    writer = LineWriter(streams[0], contextlib.nullcontext(), reopen=reopen)
    writer.put("before\n")
    assert writer.flush(5)
    writer.ask_reopen()
    writer.put("after\n")
    assert writer.flush(5)
    assert len(streams) == 2 and streams[1].getvalue() == "after\n"
    assert streams[0].closed  # the rotated file is let go
