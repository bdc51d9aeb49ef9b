"""The windows the proxy gives an HTTP/2 upstream, through the running proxy (`python -m proxy`): a
4 MiB response to a client that reads at once. Each time the upstream has to wait for the proxy's
WINDOW_UPDATE is a round trip on a real network. Found: the pool's codec kept RFC 9113's 65,535-byte
windows, so the upstream waited 123 times (64 KiB per round trip: about 3 MB/s on a 20 ms path);
Envoy's upstream windows are 256 MiB. The proxy now gives the upstream connection's buffer limit
(1 MiB by default): what it holds for a slow client is still bounded by its watermarks."""

import socket
import socketserver
import threading

import h2.config
import h2.connection
import h2.events
import httpx

from conftest import LOOPBACK
from tests.e2e.test_e2e_resources import _Upstream, _start
from tests.e2e.test_e2e_h2_upstream_stream_limit import _config

SIZE = 4 << 20


class _Large(socketserver.BaseRequestHandler):
    """Sends SIZE bytes as fast as the proxy's windows allow, counting the waits; ends gracefully."""

    def handle(self) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        conn.initiate_connection()
        sock = self.request
        sock.sendall(conn.data_to_send())
        sid, left, waits = None, SIZE, 0
        while left:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    sid = ev.stream_id
                    conn.send_headers(sid, [(b":status", b"200"), (b"content-length", b"%d" % SIZE)])
            while sid is not None and left:
                room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, left)
                if room <= 0:
                    waits += 1
                    break
                left -= room
                conn.send_data(sid, b"x" * room, end_stream=not left)
            sock.sendall(conn.data_to_send())
        self.server.waits.append(waits)
        sock.shutdown(socket.SHUT_WR)  # a graceful end: close() with unread input would be a reset
        sock.settimeout(5)
        while sock.recv(65536):
            pass


def test_a_large_response_waits_for_few_windows(proxy_process, tmp_path):
    server = _Upstream((LOOPBACK, 0), _Large)
    server.waits = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _, (host, port) = _start(proxy_process, tmp_path, _config(server.server_address[1]))
        response = httpx.get(f"http://{host}:{port}/", timeout=20)
        assert response.status_code == 200 and len(response.content) == SIZE
        assert server.waits and server.waits[0] <= 16, server.waits  # 1 MiB windows: about 7
    finally:
        server.shutdown()
        server.server_close()
