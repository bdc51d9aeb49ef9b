"""Issue 13's resource defects through the running proxy (`python -m proxy`, real sockets on
127.0.0.1) in front of a plain HTTP/1.1 upstream written here (each response in one write, or an
endless body): a pooled upstream connection stays usable after a response filled a client's buffer
(defect 9), stalled HTTP/2 streams hold a bounded amount of memory (defect 3), one stream over the
concurrency limit is refused alone (defect 7), and the flood limits hold (defect 8)."""

import json
import socket
import socketserver
import threading
import time
import urllib.request

import h2.config
import h2.connection
import h2.events
import pytest

from conftest import LOOPBACK, connect, recv_all
from e2e.wire import data, get, h2 as h2_wire
from tests.e2e.stack import Upstream as _Upstream, web_config

REFUSED_STREAM = 0x7


class _Handler(socketserver.BaseRequestHandler):
    """Keep-alive HTTP/1.1 for GETs: `/fill/N` answers N bytes in one write, `/big` an endless
    body (until the proxy goes away), anything else `ok`."""

    def handle(self) -> None:
        sock, held = self.request, b""
        while True:
            while b"\r\n\r\n" not in held:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                held += data
            head, held = held.split(b"\r\n\r\n", 1)
            path = head.split(b" ", 2)[1]
            try:
                if path == b"/big":
                    self.server.big_started.release()
                    sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (1 << 40))
                    chunk = b"b" * 65536
                    while True:
                        sock.sendall(chunk)
                body = b"x" * int(path[6:]) if path.startswith(b"/fill/") else b"ok"
                sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            except OSError:
                return


@pytest.fixture
def upstream():
    server = _Upstream((LOOPBACK, 0), _Handler)
    server.big_started = threading.Semaphore(0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _start(proxy_process, tmp_path, text: str):
    path = tmp_path / "proxy.yaml"
    path.write_text(text)
    proxy = proxy_process(path)
    proxy.wait_ready()
    return proxy, proxy.listener_address("http_in")


def _stats(proxy) -> dict:
    admin = next(line.split(" on ")[1].strip() for line in proxy.stderr_lines if line.startswith("proxy: admin on"))
    with urllib.request.urlopen(f"http://{admin}/stats?format=json", timeout=10) as r:
        return {s["name"]: s["value"] for s in json.load(r)["stats"]}


def _get(address, path: bytes) -> bytes:
    with connect(address) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path)
        return recv_all(s)


def test_pooled_connection_is_reused_after_a_response_filled_the_clients_buffer(proxy_process, tmp_path, upstream):
    """Defect 9: a response bigger than the client's 1 KiB buffer arrives in one upstream read and
    completes the exchange; the next request on the pooled connection (max_connections 1) must get
    the upstream's answer, not a 504 once the 3 s route timeout runs out."""
    _, address = _start(
        proxy_process,
        tmp_path,
        web_config(upstream.server_address[1], buffer_limit=1024, route="timeout_ms: 3000"),
    )
    first = _get(address, b"/fill/8000")
    assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"x" * 8000)
    second = _get(address, b"/next")
    assert second.startswith(b"HTTP/1.1 200"), second[:60]
    assert second.endswith(b"\r\n\r\nok")


def _h2_client():
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    c.initiate_connection()
    return c


def _request(path: bytes) -> list:
    return [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", path)]


def _h2_until(sock, client, done, events=None) -> list:
    """Feed what the proxy sends into `client` (acknowledging DATA) until done(events) or EOF."""
    events = [] if events is None else events
    while not done(events):
        data = sock.recv(65536)
        if not data:
            break
        for ev in client.receive_data(data):
            events.append(ev)
            if isinstance(ev, h2.events.DataReceived) and ev.flow_controlled_length:
                client.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        sock.sendall(client.data_to_send())
    return events


def test_a_stream_over_the_concurrency_limit_is_refused_and_the_others_complete(proxy_process, tmp_path, upstream):
    """Defect 7: 101 streams in one write, before the client has seen the proxy's SETTINGS
    (MAX_CONCURRENT_STREAMS 100): the 101st gets RST_STREAM(REFUSED_STREAM), the connection stays up
    and the 100 others are answered."""
    _, address = _start(proxy_process, tmp_path, web_config(upstream.server_address[1], max_connections=1024))
    client = _h2_client()
    ids = [1 + 2 * i for i in range(101)]
    for sid in ids:
        client.send_headers(sid, _request(b"/fill/10"), end_stream=True)
    with connect(address) as s:
        s.sendall(client.data_to_send())

        def done(events):
            ended = {e.stream_id for e in events if isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset))}
            return ended >= set(ids) or any(isinstance(e, h2.events.ConnectionTerminated) for e in events)

        events = _h2_until(s, client, done)
    assert not [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
    resets = [(e.stream_id, int(e.error_code)) for e in events if isinstance(e, h2.events.StreamReset)]
    assert resets == [(ids[-1], REFUSED_STREAM)]
    answered = {
        e.stream_id
        for e in events
        if isinstance(e, h2.events.ResponseReceived) and dict(e.headers)[b":status"] == b"200"
    }
    assert answered == set(ids[:-1])


def test_rst_stream_answers_a_client_piles_up_are_bounded_and_counted(proxy_process, tmp_path, upstream):
    """Defect 8 (max_outbound_control_frames, Envoy's default 1000; CVE-2019-9514): a request the
    proxy rejects, then 20000 one-byte DATA frames on it, each answered by RST_STREAM. Over 1000
    RST_STREAMs queued at once end the connection, counted in http.h2_outbound_control_flood."""
    proxy, address = _start(proxy_process, tmp_path, web_config(upstream.server_address[1]))
    flood = h2_wire(get(1, b"/rejected", (b"content-length", b"5")) + data(1, b"x") * 20000)
    with connect(address) as s:
        try:
            s.sendall(flood)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while we were still sending: the point
        try:
            got = recv_all(s)
        except socket.timeout:
            got = None
    assert got is not None, "the proxy kept the connection open"
    assert got.count(b"\x00\x00\x04\x03") < 1000  # fewer RST_STREAMs than the limit reached the client
    assert _stats(proxy).get("http.h2_outbound_control_flood") == 1


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def _settled_rss(pid: int, quiet_s: float = 1.5, timeout_s: float = 30.0) -> int:
    """The proxy's RSS once it has stopped growing (no 512 KiB more in `quiet_s`)."""
    deadline = time.monotonic() + timeout_s
    last, since = _rss_kib(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = _rss_kib(pid)
        if now > last + 512:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return _rss_kib(pid)


STALLED_CONNECTIONS, STALLED_STREAMS = 2, 100


def test_stalled_http2_streams_hold_bounded_memory(proxy_process, tmp_path, upstream):
    """Defect 3: 2 connections x 100 streams of an endless upstream body; the client never reads and
    never sends WINDOW_UPDATE. The proxy must stop reading the upstreams once each connection holds
    about its buffer limit (1 MiB), not 1 MiB per stream: RSS growth stays under 48 MiB (it was
    ~215 MiB). Loopback only, a few seconds."""
    proxy, address = _start(proxy_process, tmp_path, web_config(upstream.server_address[1], max_connections=1024))
    pid = proxy.proc.pid
    for _ in range(3):  # warm the runtime up: imports, first connection
        _get(address, b"/fill/10")
    before = _settled_rss(pid, quiet_s=0.5)
    socks = []
    try:
        for _ in range(STALLED_CONNECTIONS):
            client = _h2_client()
            for i in range(STALLED_STREAMS):
                client.send_headers(1 + 2 * i, _request(b"/big"), end_stream=True)
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the kernel holds little for us
            s.connect(address)
            s.sendall(client.data_to_send())
            socks.append(s)
        for _ in range(STALLED_CONNECTIONS * STALLED_STREAMS):
            assert upstream.big_started.acquire(timeout=20), "the upstream did not get every request"
        growth = _settled_rss(pid) - before
        print(f"RSS growth with {STALLED_CONNECTIONS}x{STALLED_STREAMS} stalled streams: {growth} KiB")
        assert growth < 48 * 1024, f"RSS grew by {growth} KiB"
    finally:
        for s in socks:
            s.close()


def test_stream_idle_timeout_resets_stalled_streams(proxy_process, tmp_path, upstream):
    """Defect 3, Envoy's stream_idle_timeout (here 1 s): 20 stalled streams of an endless body are
    reset once nothing has gone through them for that long; the proxy holds no request after."""
    proxy, address = _start(
        proxy_process,
        tmp_path,
        web_config(upstream.server_address[1], max_connections=1024, hcm="stream_idle_timeout_ms: 1000"),
    )
    client = _h2_client()
    for i in range(20):
        client.send_headers(1 + 2 * i, _request(b"/big"), end_stream=True)
    with socket.socket() as s:
        s.connect(address)
        s.sendall(client.data_to_send())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            stats = _stats(proxy)
            if stats.get("http.downstream_rq_idle_timeout", 0) >= 20 and not stats.get("http.downstream_rq_active"):
                break
            time.sleep(0.2)
    assert stats.get("http.downstream_rq_idle_timeout") == 20
    assert stats.get("http.downstream_rq_active") == 0
