"""Buffers, watermarks and read-disable reference counting (docs/architecture.md "Buffers and watermarks")."""

import pytest

from proxy.buffer import WatermarkBuffer
from proxy.network.connection import DEFAULT_BUFFER_LIMIT, ConnectionContractError
from proxy.network.filter import STOP_ITERATION, ConnectionCallbacks

from netscript import Recorder, new_connection


def watermark_buffer(limit):
    calls = []
    buf = WatermarkBuffer(lambda: calls.append("high"), lambda: calls.append("low"), limit)
    return buf, calls


def test_default_connection_buffer_limit_is_one_mebibyte():
    d, conn = new_connection()
    assert DEFAULT_BUFFER_LIMIT == 1 << 20
    assert conn.read_buffer.high_watermark == (1 << 20) + 1
    assert conn.read_buffer.low_watermark == ((1 << 20) + 1) // 2


def test_high_is_limit_plus_one_and_low_is_half_of_high():
    buf, calls = watermark_buffer(100)
    assert (buf.high_watermark, buf.low_watermark) == (101, 50)
    buf.add(b"x" * 101)
    assert calls == []  # at the high watermark is not above it
    buf.add(b"x")
    assert calls == ["high"]
    buf.drain(51)  # 51 left: above low
    assert calls == ["high"]
    buf.drain(1)  # 50 == low
    assert calls == ["high", "low"]


def test_callbacks_fire_on_crossings_only():
    buf, calls = watermark_buffer(10)
    buf.add(b"x" * 20)
    buf.add(b"x" * 20)
    buf.drain(35)
    buf.drain(5)
    buf.add(b"x" * 3)
    assert calls == ["high", "low"]
    buf.add(b"x" * 20)
    assert calls == ["high", "low", "high"]


def test_zero_limit_disables_watermarks():
    buf, calls = watermark_buffer(0)
    buf.add(b"x" * 10_000)
    assert calls == []


def test_read_disable_is_reference_counted():
    d, conn = new_connection()
    conn.read_disable(True)
    conn.read_disable(True)
    conn.read_disable(False)
    assert not conn.reading_enabled
    conn.read_disable(False)
    assert conn.reading_enabled
    with pytest.raises(ConnectionContractError):
        conn.read_disable(False)


def test_read_buffer_above_high_stops_reading_and_below_low_resumes():
    log = []
    d, conn = new_connection(buffer_limit=100)
    keeper = Recorder("keep", log, on_data=STOP_ITERATION)  # never drains
    conn.add_read_filter(keeper)
    conn.initialize_read_filters()
    conn.io.read_size = 60
    conn.io.peer_send(b"x" * 300)
    # Two reads of 60 pass the high watermark (101): reads stop, 180 bytes stay in the socket.
    assert len(conn.read_buffer) == 120
    assert not conn.reading_enabled
    assert len(conn.io.inbound) == 180
    conn.read_buffer.drain(70)  # 50 == low watermark: reads resume on the dispatcher
    assert conn.reading_enabled
    d.run_posted()
    assert len(conn.read_buffer) == 50 + 60  # one read crosses the high watermark again
    assert not conn.reading_enabled


def test_filters_still_get_data_when_only_the_watermark_disabled_reads():
    log = []
    d, conn = new_connection(buffer_limit=10)
    conn.add_read_filter(Recorder("a", log, on_data=STOP_ITERATION))
    conn.initialize_read_filters()
    conn.io.read_size = 50
    conn.io.peer_send(b"x" * 50)
    # The read that crossed the high watermark is still delivered.
    assert log[-1] == ("a", "data", b"x" * 50, False)


def test_reenabling_reads_redispatches_buffered_data_without_reentry():
    log = []
    d, conn = new_connection()
    conn.add_read_filter(Recorder("a", log, on_data=STOP_ITERATION))
    conn.initialize_read_filters()
    conn.read_disable(True)
    conn.on_read(b"late")  # a read that raced with the disable
    assert log == [("a", "new")]
    conn.read_disable(False)
    assert log == [("a", "new")]  # posted, not re-entrant
    d.run_posted()
    assert log[-1] == ("a", "data", b"late", False)


def test_write_buffer_crossings_reach_connection_callbacks():
    calls = []

    class Watch(ConnectionCallbacks):
        def on_above_write_buffer_high_watermark(self):
            calls.append("above")

        def on_below_write_buffer_low_watermark(self):
            calls.append("below")

    d, conn = new_connection(buffer_limit=100)
    conn.on_connected()
    conn.add_connection_callbacks(Watch())
    conn.write(b"x" * 150)
    assert calls == ["above"]
    conn.io.peer_read(99)
    assert calls == ["above"]
    conn.io.peer_read(1)
    assert calls == ["above", "below"]
