"""A connection the proxy has closed gives its socket back even when the peer never reads.

asyncio keeps a closing socket open until its write buffer is sent. A client that stops reading
(its receive window shut) therefore held the proxy's socket, its kernel buffers and a descriptor for
ever after tcp_proxy's idle timeout had closed the connection: open_connections() still counted
it, the drain waited for it, and a few thousand such clients would run the proxy out of
descriptors. Found live: tcp_proxy idle_timeout_ms 1000, a 20 MB download, a client that never
reads: the proxy's socket still ESTABLISHED 25 s later. The connection manager's connections had
the same gap until every close of theirs was bounded as Envoy's delayed_close_timeout bounds it
(docs/semantics.md, "bytes left in user space at a close").
"""

import socket
import threading
import time

from conftest import LOOPBACK, connect, proxy_config, tcp_proxy_config

from proxy._server_socket import CLOSE_FLUSH_TIMEOUT_S

IDLE_MS = 300
DOWNLOAD = 8 << 20  # far more than the kernel buffers and asyncio's hold between them
TAIL = 12_000  # a body one read brings in whole, more than the shrunk kernel buffers below take


class _Downloader:
    """An upstream that sends DOWNLOAD bytes to each connection, then closes it (`then_close`)
    or waits for the proxy to end it."""

    def __init__(self, then_close: bool = False) -> None:
        self.then_close = then_close
        self.sock = socket.socket()
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._send, args=(conn,), daemon=True).start()

    def _send(self, conn) -> None:
        with conn:
            try:
                conn.sendall(b"x" * DOWNLOAD)
                if not self.then_close:
                    conn.recv(1)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


def test_a_client_that_never_reads_does_not_keep_an_idle_timed_out_socket(start_proxy):
    upstream = _Downloader()
    try:
        proxy = start_proxy(tcp_proxy_config(upstream.port, tcp_proxy={"idle_timeout_ms": IDLE_MS}))
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # and it never reads
        with client:
            client.connect(proxy.address())
            deadline = time.monotonic() + 10
            while proxy.stats()["counters"].get("tcp_proxy.idle_timeout", 0) < 1:
                assert time.monotonic() < deadline, "the idle timeout never fired"
                time.sleep(0.05)
            deadline = time.monotonic() + CLOSE_FLUSH_TIMEOUT_S + 3
            while (still := proxy.call(proxy.server.open_connections)) != (0, 0):
                assert time.monotonic() < deadline, f"(downstream, upstream) sockets still open: {still}"
                time.sleep(0.05)
    finally:
        upstream.close()


def test_a_reader_that_pauses_still_gets_every_byte_of_a_flushed_close(start_proxy):
    """The bound is for closes that gave up on the peer. The upstream sends and closes, the
    proxy's close flushes (FLUSH_WRITE): a client that pauses longer than the bound before it
    reads still gets every byte, then the end."""
    upstream = _Downloader(then_close=True)
    try:
        proxy = start_proxy(tcp_proxy_config(upstream.port))
        with connect(proxy.address()) as client:
            time.sleep(CLOSE_FLUSH_TIMEOUT_S + 1)  # the upstream has sent and closed; the proxy holds the rest
            got = 0
            while data := client.recv(1 << 20):
                got += len(data)
            assert got == DOWNLOAD
    finally:
        upstream.close()


def _http_config(upstream_port: int) -> str:
    """An HTTP connection manager whose streams time out 300 ms after their last byte moved."""
    hcm = {
        "stream_idle_timeout_ms": IDLE_MS,
        "route_config": {
            "virtual_hosts": [
                {"name": "all", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "up"}}]}
            ]
        },
    }
    listener = {
        "name": "http_in",
        "address": {"host": LOOPBACK, "port": 0},
        "filter_chains": [{"filters": [{"http_connection_manager": hcm}]}],
    }
    cluster = {"name": "up", "endpoints": [{"host": LOOPBACK, "port": upstream_port}], "connect_timeout_ms": 2000}
    return proxy_config([listener], [cluster])


class _Responder(_Downloader):
    """An HTTP/1.1 upstream answering any request with `answer` in one write, then waiting."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        super().__init__()

    def _send(self, conn) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(self.answer)
                conn.recv(1)
            except OSError:
                pass


def _wait_for(condition, seconds: float, failure: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.02)


def _downstream_sockets_released(proxy) -> None:
    """Within the bound of a close that gave up on its peer (one period, and slack for the loop)."""
    _wait_for(
        lambda: proxy.call(proxy.server.open_connections)[0] == 0,
        CLOSE_FLUSH_TIMEOUT_S + 3,
        "a downstream socket is still open",
    )


def test_a_client_that_never_reads_does_not_keep_a_socket_after_the_delayed_close(start_proxy):
    """The connection manager's delayed close gives up on a client that took nothing for 1 s (Envoy's
    delayed_close_timeout); the socket must go too. Live before: stream_idle_timeout_ms 500, a 20 MB
    response, a client that never reads: http.downstream_cx_active 0 but the socket ESTABLISHED for
    good with 3.5 MB in its Send-Q (server.downstream_cx_active 1), until the client went."""
    # the head of a far longer body, then DOWNLOAD bytes of it
    upstream = _Responder(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (1 << 40) + b"x" * DOWNLOAD)
    try:
        proxy = start_proxy(_http_config(upstream.port))
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # and it never reads
        with client:
            client.connect(proxy.address("http_in"))
            client.sendall(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
            _wait_for(
                lambda: proxy.stats()["counters"].get("http.downstream_cx_delayed_close_timeout", 0) == 1,
                10,
                "the delayed close never timed out",
            )
            _downstream_sockets_released(proxy)
    finally:
        upstream.close()


def test_a_flushed_close_keeps_the_socket_no_longer_than_envoys_delayed_close(start_proxy):
    """Envoy closes a connection manager's socket once delayed_close_timeout (1 s) passes without
    write progress, wherever its bytes wait. Here a whole response went into the transport (so the
    connection closed, flushed) while asyncio still held its tail for a client that never reads:
    that socket stayed for good, however many such clients came (the drain waited for them too).
    Found live with both kernel buffers at their minimum: 8,029 bytes held, the socket open."""
    upstream = _Responder(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % TAIL + b"x" * TAIL)
    try:
        proxy = start_proxy(_http_config(upstream.port))
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the minimum; it never reads
        with client:
            client.connect(proxy.address("http_in"))
            _wait_for(lambda: proxy.call(lambda: list(proxy.server._downstream)), 10, "the proxy never accepted")
            proxy.call(_shrink_send_buffers(proxy.server))
            client.sendall(b"GET /big HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            _wait_for(lambda: not proxy.stats()["gauges"].get("http.downstream_cx_active", 1), 10, "never closed")
            _downstream_sockets_released(proxy)
            assert proxy.stats()["counters"].get("http.downstream_cx_delayed_close_timeout", 0) == 0
    finally:
        upstream.close()


def _shrink_send_buffers(server):
    """So that a small response fills the kernel's buffers (their minimum) and asyncio keeps the rest."""

    def shrink() -> None:
        for transport in server._downstream:
            transport.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)

    return shrink
