"""The socket transport on real sockets, driven by small filters of the test's own.

Each test is a script: a filter decides what the proxy does, an asyncio client on the same
loop plays the peer, and the assertions read the connection's own state (bytes received,
buffer sizes, watermark events), never the wall clock.
"""

import asyncio
import time

import pytest

from conftest import free_port, run_async
from proxy._server_socket import READ_SIZE, WRITE_CHUNK
from proxy.context import ServerContext
from proxy.network.connection import CloseType, ConnectionEvent
from proxy.network.filter import CONTINUE, STOP_ITERATION, ConnectionCallbacks, ReadFilter
from proxy.network.listener import BuiltFilterChain, BuiltListener, FilterChainMatch
from proxy.server import Server
from proxy.tools.echo import EchoServer

MiB = 1 << 20


class Built:
    """The part of a BuiltConfig the Server reads."""

    def __init__(self, *listeners) -> None:
        self.listeners = listeners
        self.admin_address = None


def listener(*filter_classes, buffer_limit=MiB, match=FilterChainMatch(), half_close=False, name="t"):
    def install(conn, ctx):
        conn.enable_half_close(half_close)
        for cls in filter_classes:
            conn.add_read_filter(cls())

    chain = BuiltFilterChain(match=match, installs=(install,), filter_names=("test",))
    return BuiltListener(name=name, address=("127.0.0.1", 0), buffer_limit=buffer_limit, filter_chains=(chain,))


def server_for(*listeners, **kw) -> Server:
    return Server(Built(*listeners), instantiate=lambda built, d, n: ServerContext(dispatcher=d, network=n), **kw)


async def eventually(predicate, what: str, step: float = 0.005):
    """Wait (bounded by the test's run_async timeout) until predicate() holds."""
    while not predicate():
        await asyncio.sleep(step)


def pattern(n: int) -> bytes:
    return (bytes(range(251)) * (n // 251 + 1))[:n]


class Echo(ReadFilter):
    """Writes back what it reads; records the size of every read the connection got."""

    reads: list = []

    def on_data(self, buf, end_stream):
        conn = self.callbacks.connection
        Echo.reads.append(conn.bytes_received)
        conn.write(buf.take(), end_stream)
        return STOP_ITERATION


def test_bytes_round_trip_and_no_read_is_larger_than_read_size():
    Echo.reads = []

    async def scenario():
        server = server_for(listener(Echo))
        addr = (await server.start())["t"]
        reader, writer = await asyncio.open_connection(*addr)
        data = pattern(3 * MiB)
        writer.write(data)
        got = await reader.readexactly(len(data))
        writer.close()
        await server.stop()
        return data, got

    data, got = run_async(scenario())
    assert got == data
    sizes = [b - a for a, b in zip([0] + Echo.reads, Echo.reads)]
    assert sum(sizes) == 3 * MiB
    assert max(sizes) <= READ_SIZE


class StopReadingAfterFirstData(ReadFilter):
    """Disables reading on the first bytes; the test re-enables it. Counts what it saw."""

    instance = None

    def __init__(self):
        StopReadingAfterFirstData.instance = self
        self.seen = 0
        self.end_stream = False
        self.disabled = False

    def on_data(self, buf, end_stream):
        self.seen += len(buf)
        buf.drain(len(buf))
        self.end_stream |= end_stream
        if not self.disabled:
            self.disabled = True
            self.callbacks.connection.read_disable(True)
        return STOP_ITERATION


def test_disabled_reading_pauses_the_socket_and_held_input_arrives_on_enable():
    async def scenario():
        server = server_for(listener(StopReadingAfterFirstData, half_close=True))
        addr = (await server.start())["t"]
        reader, writer = await asyncio.open_connection(*addr)
        writer.write(b"x")
        await eventually(
            lambda: StopReadingAfterFirstData.instance is not None and StopReadingAfterFirstData.instance.disabled,
            "first read",
        )
        f = StopReadingAfterFirstData.instance
        conn = f.callbacks.connection
        # Send until the client's own buffer starts to fill: the kernel buffers are full, so
        # the proxy is not reading any more. A proxy that kept reading would hit the cap.
        sent, chunk = 1, pattern(64 * 1024)
        while writer.transport.get_write_buffer_size() == 0:
            assert sent < 256 * MiB, "the proxy kept reading while its connection had reads disabled"
            writer.write(chunk)
            sent += len(chunk)
            await asyncio.sleep(0)
        assert conn.bytes_received == f.seen == 1
        assert server.buffered_bytes() == 0  # nothing held in the transport either
        writer.write_eof()
        conn.read_disable(False)
        await eventually(lambda: f.end_stream, "end of stream")
        result = (f.seen, conn.bytes_received)
        conn.close()  # half-closed by the peer only: nothing else would end it
        writer.close()
        await server.stop()
        return sent, result

    sent, (seen, received) = run_async(scenario())
    assert seen == received == sent


class WatermarkSource(ReadFilter, ConnectionCallbacks):
    """On a new connection writes TOTAL bytes in CHUNK pieces, pausing above the write buffer's
    high watermark until it falls below the low one (as tcp_proxy does), then ends the stream."""

    TOTAL = 8 * MiB
    CHUNK = 16 * 1024
    instance = None

    def __init__(self):
        WatermarkSource.instance = self
        self.sent = 0
        self.paused = False
        self.high_events = 0
        self.low_events = 0

    def on_new_connection(self):
        self.conn = self.callbacks.connection
        self.conn.add_connection_callbacks(self)
        self.pump()
        return CONTINUE

    def pump(self):
        while not self.paused and self.sent < self.TOTAL:
            n = min(self.CHUNK, self.TOTAL - self.sent)
            self.sent += n
            self.conn.write(pattern(n), end_stream=self.sent == self.TOTAL)

    def on_above_write_buffer_high_watermark(self):
        self.high_events += 1
        self.paused = True

    def on_below_write_buffer_low_watermark(self):
        self.low_events += 1
        self.paused = False
        self.conn.dispatcher.post(self.pump)


def test_slow_peer_fills_the_connection_write_buffer_not_asyncio():
    limit = 256 * 1024

    async def scenario():
        server = server_for(listener(WatermarkSource, buffer_limit=limit, half_close=True))
        addr = (await server.start())["t"]
        reader, writer = await asyncio.open_connection(*addr, limit=64 * 1024)
        await eventually(lambda: WatermarkSource.instance is not None and WatermarkSource.instance.high_events, "high")
        source = WatermarkSource.instance
        samples = []
        got = bytearray()
        while True:
            samples.append((server.buffered_bytes(), server.transport_buffered_bytes()))
            data = await reader.read(8 * 1024)
            if not data:
                break
            got += data
        writer.close()
        await server.stop()
        return source, samples, bytes(got)

    source, samples, got = run_async(scenario())
    assert len(got) == WatermarkSource.TOTAL
    assert got == b"".join(
        pattern(WatermarkSource.CHUNK) for _ in range(WatermarkSource.TOTAL // WatermarkSource.CHUNK)
    )
    # The write buffer, not asyncio's, filled up and drained: the watermarks fired both ways.
    assert source.high_events >= 2 and source.low_events >= 2
    assert max(b for b, _ in samples) > limit
    assert max(b for b, _ in samples) <= limit + 1 + WatermarkSource.CHUNK
    assert max(t for _, t in samples) <= WRITE_CHUNK


class Reverse(ReadFilter):
    """Half close: collects the whole request, answers it reversed, then ends its side."""

    def on_data(self, buf, end_stream):
        if end_stream:
            self.callbacks.connection.write(buf.take()[::-1], end_stream=True)
        return STOP_ITERATION


def test_half_close_peer_ends_its_side_and_still_gets_the_answer():
    async def scenario():
        server = server_for(listener(Reverse, half_close=True))
        addr = (await server.start())["t"]
        reader, writer = await asyncio.open_connection(*addr)
        writer.write(b"hello, proxy")
        writer.write_eof()
        answer = await reader.read()  # to the proxy's end of stream
        writer.close()
        await server.stop()
        return answer

    assert run_async(scenario()) == b"yxorp ,olleh"


class WriteThenFlushClose(ReadFilter):
    """On the first bytes, answers SIZE bytes and closes with FlushWrite."""

    SIZE = 4 * MiB

    def on_data(self, buf, end_stream):
        conn = self.callbacks.connection
        conn.write(pattern(self.SIZE))
        conn.close(CloseType.FLUSH_WRITE)
        return STOP_ITERATION


class GreetThenFlushClose(ReadFilter):
    """The same from on_new_connection, before the listener has raised Connected."""

    def on_new_connection(self):
        conn = self.callbacks.connection
        conn.write(b"banner\n")
        conn.close(CloseType.FLUSH_WRITE)
        return STOP_ITERATION


async def _read_to_end(filter_class, send=b""):
    server = server_for(listener(filter_class))
    addr = (await server.start())["t"]
    reader, writer = await asyncio.open_connection(*addr)
    writer.write(send)
    got = await reader.read()
    writer.close()
    await server.stop()
    return got


def test_flush_write_close_delivers_every_pending_byte_before_the_end():
    assert run_async(_read_to_end(WriteThenFlushClose, b"go")) == pattern(WriteThenFlushClose.SIZE)


def test_flush_write_close_from_on_new_connection_delivers_the_bytes():
    assert run_async(_read_to_end(GreetThenFlushClose)) == b"banner\n"


class CloseOnTimer(ReadFilter):
    """Arms a 50 ms timer on the real dispatcher; on expiry says so and closes."""

    fired_at = None

    def on_new_connection(self):
        conn = self.callbacks.connection
        self.armed_at = conn.dispatcher.now_ms()

        def expire():
            CloseOnTimer.fired_at = (self.armed_at, conn.dispatcher.now_ms())
            conn.write(b"timeout\n")
            conn.close(CloseType.FLUSH_WRITE)

        self.timer = conn.dispatcher.create_timer(expire)
        self.timer.enable(50)
        return CONTINUE


def test_real_dispatcher_timers_fire_and_close_the_connection():
    async def scenario():
        server = server_for(listener(CloseOnTimer))
        addr = (await server.start())["t"]
        reader, writer = await asyncio.open_connection(*addr)
        got = await reader.read()
        writer.close()
        await server.stop()
        return got

    assert run_async(scenario()) == b"timeout\n"
    armed, fired = CloseOnTimer.fired_at
    assert fired - armed >= 50


class Boom(ReadFilter):
    def on_data(self, buf, end_stream):
        if b"boom" in buf.bytes():
            raise RuntimeError("a filter bug")
        self.callbacks.connection.write(buf.take())
        return STOP_ITERATION


def test_an_exception_in_a_filter_closes_only_that_connection(caplog):
    async def scenario():
        server = server_for(listener(Boom))
        addr = (await server.start())["t"]
        r1, w1 = await asyncio.open_connection(*addr)
        r2, w2 = await asyncio.open_connection(*addr)
        w1.write(b"boom")
        try:
            closed = await r1.read()
        except ConnectionResetError:
            closed = b""
        w2.write(b"still fine")
        other = await r2.readexactly(10)
        errors = server.ctx.stats.counter("server.unhandled_errors")
        w1.close()
        w2.close()
        await server.stop()
        return closed, other, errors

    closed, other, errors = run_async(scenario())
    assert closed == b"" and other == b"still fine" and errors == 1
    assert "a filter bug" in caplog.text


class Recorder(ConnectionCallbacks):
    def __init__(self):
        self.events = []

    def on_event(self, event):
        self.events.append(event)


class Collect(ReadFilter):
    def __init__(self):
        self.data = bytearray()
        self.end = False

    def on_data(self, buf, end_stream):
        self.data += buf.take()
        self.end |= end_stream
        return STOP_ITERATION


def test_upstream_connect_write_read_and_half_close():
    async def scenario():
        echo = EchoServer()
        host, port = await echo.start()
        server = server_for(listener(Echo))
        await server.start()
        conn = server.network.connect(host, port, 64 * 1024)
        rec, col = Recorder(), Collect()
        conn.add_connection_callbacks(rec)
        conn.enable_half_close(True)
        conn.add_read_filter(col)
        conn.initialize_read_filters()
        conn.write(b"ping", end_stream=True)  # buffered until the connect completes
        await eventually(lambda: col.end, "echo's end of stream")
        await eventually(lambda: server.open_connections() == (0, 0), "closed")
        await server.stop()
        await echo.stop()
        return rec.events, bytes(col.data), conn

    events, data, conn = run_async(scenario())
    assert data == b"ping"
    assert events[0] is ConnectionEvent.CONNECTED
    assert conn.local_address[0] == "127.0.0.1"


def test_upstream_connect_refused_raises_remote_close_with_the_reason():
    async def scenario():
        server = server_for(listener(Echo))
        await server.start()
        conn = server.network.connect("127.0.0.1", free_port())
        rec = Recorder()
        conn.add_connection_callbacks(rec)
        await eventually(lambda: rec.events, "connect failure")
        await server.stop()
        return rec.events, conn

    events, conn = run_async(scenario())
    assert events == [ConnectionEvent.REMOTE_CLOSE]
    assert conn.stream_info["failure"] == "connect_failed"


def test_upstream_closed_while_connecting_leaves_nothing_open():
    async def scenario():
        echo = EchoServer()
        host, port = await echo.start()
        server = server_for(listener(Echo))
        await server.start()
        conn = server.network.connect(host, port)
        conn.close(CloseType.NO_FLUSH)  # e.g. a connect timeout, before the socket is up
        await eventually(lambda: server.open_connections() == (0, 0), "cancelled")
        await asyncio.sleep(0.05)  # a connect that slipped through would show up in echo
        active = echo.connections_active
        await server.stop()
        await echo.stop()
        return conn, active

    conn, active = run_async(scenario())
    assert conn.close_event is ConnectionEvent.LOCAL_CLOSE
    assert active == 0


def test_no_matching_filter_chain_refuses_the_connection():
    async def scenario():
        server = server_for(listener(Echo, match=FilterChainMatch(destination_port=1)))
        addr = (await server.start())["t"]
        reader, writer = await asyncio.open_connection(*addr)
        try:
            got = await reader.read()
        except ConnectionResetError:
            got = b""
        writer.close()
        stats = server.ctx.stats
        await eventually(lambda: server.open_connections() == (0, 0), "closed")
        await server.stop()
        return got, stats

    got, stats = run_async(scenario())
    assert got == b""
    assert stats.counter("listener.t.no_filter_chain_match") == 1


def test_stop_closes_the_listener_and_waits_for_open_connections():
    async def scenario():
        server = server_for(listener(Echo), drain_timeout_s=60)
        addr = (await server.start())["t"]
        reader, writer = await asyncio.open_connection(*addr)
        writer.write(b"a")
        assert await reader.readexactly(1) == b"a"
        stopping = asyncio.create_task(server.stop())
        await eventually(lambda: server.draining, "draining")
        await asyncio.sleep(0)
        with pytest.raises(OSError):
            await asyncio.open_connection(*addr)
        writer.write(b"b")  # the open connection still works while draining
        echoed = await reader.readexactly(1)
        assert not stopping.done()
        writer.close()
        await stopping  # returns once the last connection is gone, long before 60 s
        return echoed

    assert run_async(scenario(), timeout=20) == b"b"


def test_stop_closes_connections_still_open_at_the_drain_timeout():
    async def scenario():
        server = server_for(listener(Echo))
        addr = (await server.start())["t"]
        reader, writer = await asyncio.open_connection(*addr)
        writer.write(b"a")
        await reader.readexactly(1)
        await server.stop(drain_timeout_s=0.1)
        try:
            rest = await reader.read()
        except ConnectionResetError:
            rest = b""
        writer.close()
        return rest, server.open_connections()

    assert run_async(scenario(), timeout=20) == (b"", (0, 0))


def test_echo_rate_flag_reads_no_faster_than_the_rate():
    """The throttle's contract: n bytes at `rate` bytes/s take at least (n - one read) / rate.
    A lower bound on time, so a loaded machine cannot make it fail."""
    rate, n = 1_000_000, 300_000

    async def scenario():
        echo = EchoServer(rate=rate)
        host, port = await echo.start()
        reader, writer = await asyncio.open_connection(host, port)
        loop = asyncio.get_running_loop()
        start = loop.time()
        writer.write(pattern(n))
        writer.write_eof()
        got = await reader.read()
        elapsed = loop.time() - start
        writer.close()
        await echo.stop()
        return got, elapsed

    got, elapsed = run_async(scenario())
    assert got == pattern(n)
    assert elapsed >= (n - rate // 10) / rate


def test_a_half_close_towards_an_upstream_that_reset_is_no_core_error(start_proxy):
    """Found by the runtime harness (runtime_core_error): the upstream resets while the proxy is not
    reading it (its client reads nothing, so backpressure paused that socket) and the proxy never
    learns of it; the client then half-closes, tcp_proxy passes the end on, and shutdown(SHUT_WR)
    on the reset socket raises ENOTCONN. It is the peer gone, not a bug in the core: the connection
    ends as for any reset, with no traceback and no server.unhandled_errors."""
    import socket
    import struct
    import time

    from conftest import tcp_proxy_config

    upstream = socket.create_server(("127.0.0.1", 0))
    proxy = start_proxy(tcp_proxy_config(upstream.getsockname()[1], buffer_limit=1024, cluster_buffer_limit=1024))
    with socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(proxy.address())
        client.sendall(b"hi")
        peer, _ = upstream.accept()
        assert peer.recv(2) == b"hi"
        peer.setblocking(False)
        blocked_since = None
        while blocked_since is None or time.monotonic() - blocked_since < 0.5:
            try:  # until the client's kernel, the proxy (its upstream socket paused) and ours are full
                peer.send(b"x" * 65536)
                blocked_since = None
            except BlockingIOError:
                blocked_since = blocked_since or time.monotonic()
                time.sleep(0.01)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()  # RST
        time.sleep(0.1)
        client.shutdown(socket.SHUT_WR)
        client.settimeout(10)
        try:
            while client.recv(65536):
                pass
        except ConnectionResetError:
            pass
    upstream.close()
    assert proxy.call(lambda: proxy.server.ctx.stats.counter("server.unhandled_errors")) == 0


def test_an_upstream_that_greets_and_closes_before_the_tls_handshake_reaches_the_client(start_proxy):
    """Found by the runtime harness (runtime_differs_from_sim): a TLS listener's tcp_proxy upstream
    sends its greeting and half-closes before the client's handshake (a server-first protocol, an
    error and a close). The connection counted the greeting, plaintext not yet encryptable, as
    flushed, so the transport wrote its FIN at once; the handshake then failed (asyncio: 'Cannot
    call write() after write_eof()', an unhandled error) and the greeting was lost."""
    import socket
    import ssl
    import threading

    from conftest import proxy_config
    from fuzz import test_pki

    pki = test_pki.ensure()
    upstream = socket.create_server(("127.0.0.1", 0))

    def greet_and_close():
        s, _ = upstream.accept()
        s.sendall(b"220 ready\r\n")
        s.shutdown(socket.SHUT_WR)
        s.recv(1)  # until the proxy closes
        s.close()

    threading.Thread(target=greet_and_close, daemon=True).start()
    cert = {
        "certificate_chain": {"filename": str(pki / "server.pem")},
        "private_key": {"filename": str(pki / "server.key")},
    }
    chain = {
        "tls_context": {"common_tls_context": {"tls_certificates": [cert]}},
        "filters": [{"tcp_proxy": {"cluster": "up"}}],
    }
    listener = {"name": "tls_in", "address": {"host": "127.0.0.1", "port": 0}, "filter_chains": [chain]}
    cluster = {"name": "up", "endpoints": [{"host": "127.0.0.1", "port": upstream.getsockname()[1]}]}
    proxy = start_proxy(proxy_config([listener], [cluster]))
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    ctx.check_hostname = False
    with socket.create_connection(proxy.address("tls_in"), timeout=10) as raw:
        time.sleep(0.2)  # the upstream has greeted and closed
        with ctx.wrap_socket(raw) as tls:
            data = b""
            while chunk := tls.recv(100):
                data += chunk
    upstream.close()
    assert data == b"220 ready\r\n"
    assert proxy.call(lambda: proxy.server.ctx.stats.counter("server.unhandled_errors")) == 0
