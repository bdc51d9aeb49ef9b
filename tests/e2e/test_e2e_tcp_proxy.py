"""End to end on 127.0.0.1: client -> proxy (tcp_proxy and friends) -> a real echo upstream.

The proxy runs in-process (a Server on its own loop thread, or on the test's loop when the
test samples the proxy's buffers between client steps); the echo upstream counts the
connections and bytes it saw, so "nothing reached the upstream" is checked at the upstream.
"""

import asyncio
import hashlib
import socket
import threading
import time

from conftest import LOOPBACK, connect, free_port, load_config, recv_all, run_async, tcp_proxy_config
from proxy._server_socket import READ_SIZE, WRITE_CHUNK
from proxy.build import build
from proxy.server import Server
from proxy.tools.echo import EchoServer

MiB = 1 << 20


def pattern(n: int) -> bytes:
    # 251 is prime: a shifted or dropped byte changes the pattern at that offset.
    return (bytes(range(251)) * (n // 251 + 1))[:n]


def test_ten_mebibytes_arrive_byte_for_byte(echo_upstream, start_proxy):
    proxy = start_proxy(tcp_proxy_config(echo_upstream.port))
    data = pattern(10 * MiB)
    with connect(proxy.address()) as s:

        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        got = recv_all(s)
        sender.join(10)
    assert len(got) == len(data)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    counters = proxy.stats()["counters"]
    assert counters["tcp_proxy.downstream_bytes_rx"] == counters["tcp_proxy.downstream_bytes_tx"] == len(data)
    assert echo_upstream.counters()["bytes_received"] == len(data)


async def _small_rcvbuf_connection(address, rcvbuf: int):
    """An asyncio stream whose kernel receive buffer is small: a slow reader is felt at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, address)
    return await asyncio.open_connection(sock=sock, limit=16 * 1024)


PAUSED = (
    "tcp_proxy.upstream_flow_control_paused_reading_total",
    "tcp_proxy.downstream_flow_control_paused_reading_total",
)


def test_slow_reader_keeps_the_proxys_buffered_bytes_bounded():
    """The client sends at least 10 MiB as fast as it may. It reads nothing until the proxy has
    paused reading both ways (seen in tcp_proxy's stats, bounded wait): with every buffer behind a
    reader that does not read full, backpressure must travel through the proxy both ways, so the
    pauses are certain, not a matter of timing. Then it reads 16 KiB per step. The echo's and the
    client's kernel buffers are kept small. At every step the proxy's buffered bytes (its
    connections' read + write buffers) stay within two write buffers at their high watermark plus
    one read each: 2 x (limit + 1 + READ_SIZE). asyncio's own write buffers stay at one chunk per
    socket."""
    limit = 256 * 1024
    at_least, at_most, step = 10 * MiB, 64 * MiB, 64 * 1024  # at_most: more than every buffer on the way
    source = pattern(step + 251)

    async def scenario():
        echo = EchoServer(sockbuf=16 * 1024)
        _, echo_port = await echo.start()
        server = Server(build(load_config(tcp_proxy_config(echo_port, buffer_limit=limit, cluster_buffer_limit=limit))))
        address = (await server.start())["tcp_in"]
        reader, writer = await _small_rcvbuf_connection(address, 16 * 1024)
        counters = server.ctx.stats.counters
        paused = asyncio.Event()

        async def send():
            sent = 0
            while sent < at_least or (not paused.is_set() and sent < at_most):
                writer.write(source[sent % 251 : sent % 251 + step])  # the pattern from offset `sent`
                sent += step
                await writer.drain()
            writer.write_eof()
            return sent

        sending = asyncio.create_task(send())
        samples = []
        deadline = asyncio.get_running_loop().time() + 30
        while not all(counters.get(name, 0) for name in PAUSED) and asyncio.get_running_loop().time() < deadline:
            samples.append((server.buffered_bytes(), server.transport_buffered_bytes()))
            await asyncio.sleep(0.005)
        paused.set()
        got = bytearray()
        while True:
            samples.append((server.buffered_bytes(), server.transport_buffered_bytes()))
            chunk = await reader.read(16 * 1024)
            if not chunk:
                break
            got += chunk
            await asyncio.sleep(0.001)  # the slow reader
        sent = await sending
        seen = dict(counters)
        writer.close()
        await server.stop()
        await echo.stop()
        return pattern(sent), bytes(got), samples, seen

    data, got, samples, counters = run_async(scenario(), timeout=90)
    assert got == data
    # Not vacuous: both directions were paused by the proxy while the client did not read, and the
    # buffers filled.
    assert all(counters.get(name, 0) >= 1 for name in PAUSED), counters
    peak = max(b for b, _ in samples)
    assert peak > limit
    assert all(b <= 2 * (limit + 1 + READ_SIZE) for b, _ in samples), peak
    assert all(t <= 2 * WRITE_CHUNK for _, t in samples)


def test_rbac_denied_source_is_closed_with_nothing_sent_upstream(echo_upstream, start_proxy):
    rbac = {"rbac": {"action": "DENY", "policies": [{"name": "loopback", "source_prefixes": ["127.0.0.0/8"]}]}}
    proxy = start_proxy(tcp_proxy_config(echo_upstream.port, filters=[rbac]))
    with connect(proxy.address()) as s:
        try:
            s.sendall(b"let me in")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the proxy may have closed it already
        assert recv_all(s) == b""
    counters = proxy.stats()["counters"]
    assert counters["rbac.denied"] == 1
    assert counters.get("tcp_proxy.upstream_cx_total", 0) == 0
    assert echo_upstream.counters()["connections_total"] == 0
    assert echo_upstream.counters()["bytes_received"] == 0


def test_rbac_allowed_source_goes_through(echo_upstream, start_proxy):
    rbac = {"rbac": {"action": "ALLOW", "policies": [{"name": "loopback", "source_prefixes": ["127.0.0.0/8"]}]}}
    proxy = start_proxy(tcp_proxy_config(echo_upstream.port, filters=[rbac]))
    with connect(proxy.address()) as s:
        s.sendall(b"hello")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b"hello"
    assert proxy.stats()["counters"]["rbac.allowed"] == 1


def test_half_close_client_ends_its_side_and_still_receives_the_echo(echo_upstream, start_proxy):
    proxy = start_proxy(tcp_proxy_config(echo_upstream.port))
    with connect(proxy.address()) as s:
        s.sendall(b"first ")
        s.sendall(b"second")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b"first second"  # and then the proxy's end of stream
    assert echo_upstream.counters()["eofs_received"] == 1


def test_idle_timeout_closes_the_connection_on_the_real_clock(echo_upstream, start_proxy):
    proxy = start_proxy(tcp_proxy_config(echo_upstream.port, tcp_proxy={"idle_timeout_ms": 100}))
    with connect(proxy.address()) as s:
        s.sendall(b"ping")
        assert s.recv(4) == b"ping"
        # Idle from here on: the proxy's timer closes both sides; recv sees the end of stream.
        assert recv_all(s) == b""
    assert proxy.stats()["counters"]["tcp_proxy.idle_timeout"] == 1


def test_unreachable_upstream_closes_the_downstream(start_proxy):
    proxy = start_proxy(tcp_proxy_config(free_port()))
    with connect(proxy.address()) as s:
        try:
            s.sendall(b"anyone?")
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert recv_all(s) == b""
    counters = proxy.stats()["counters"]
    assert counters["cluster.echo.upstream_cx_connect_fail"] == 1


def test_many_concurrent_connections_each_get_their_own_bytes(echo_upstream, start_proxy):
    proxy = start_proxy(tcp_proxy_config(echo_upstream.port))
    results = {}

    def client(i):
        payload = f"client {i} ".encode() * 1000
        with connect(proxy.address()) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            results[i] = recv_all(s) == payload

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {i: True for i in range(20)}
    assert proxy.stats()["counters"]["tcp_proxy.upstream_cx_total"] == 20
    # Every connection, both sides, is released once the peers are done.
    wait_until(lambda: proxy.call(proxy.server.open_connections) == (0, 0))
    assert proxy.stats()["gauges"]["cluster.echo.upstream_cx_active"] == 0


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_fault_throttle_paces_the_upstreams_bytes_too_and_the_close_waits_for_them(start_proxy):
    # bootstrap.proto: throttle_bytes_per_sec holds "in each direction". The upstream sends 1200 bytes and
    # closes at once: the client gets 1000, the last 200 a window later, then the end of stream.
    server = socket.create_server((LOOPBACK, 0))

    def upstream():
        conn, _ = server.accept()
        with conn:
            conn.sendall(pattern(1200))

    thread = threading.Thread(target=upstream, daemon=True)
    thread.start()
    fault = {"fault": {"throttle_bytes_per_sec": 1000}}
    proxy = start_proxy(tcp_proxy_config(server.getsockname()[1], filters=[fault]))
    with connect(proxy.address()) as s:
        assert recv_all(s) == pattern(1200)
    thread.join(10)
    server.close()
    counters = proxy.stats()["counters"]
    assert counters["fault.throttle_holds"] >= 1 and counters["fault.throttled_bytes_released"] >= 200
