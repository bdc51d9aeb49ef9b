"""A large response from an HTTP/2 upstream to a client that pauses reading, then reads on: while the
client is backed up the proxy stops crediting the upstream's window (backpressure); once it reads
again the credit (WINDOW_UPDATE) must reach the upstream, or the upstream, out of window, sends nothing
more and the download stalls until the route timeout."""

import socket
import time

from _live import Proxy, Upstream, check, http_config, ok, request_bytes

BODY = 6 << 20  # 96 times the upstream's 64 KiB window, more than the sockets between hold


def large(sock, log) -> None:
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    sid, left = None, 0
    while True:
        while sid is not None and left:
            room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, left)
            if room <= 0:
                break
            left -= room
            conn.send_data(sid, b"x" * room, end_stream=not left)
        sock.sendall(conn.data_to_send())
        data = sock.recv(65536)
        if not data:
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                sid, left = ev.stream_id, BODY
                log.append("request")
                conn.send_headers(sid, [(b":status", b"200"), (b"content-length", str(BODY).encode())])


SMALL = {"per_connection_buffer_limit_bytes": 16384}
with (
    Upstream(large) as up,
    Proxy(
        http_config(up.port, cluster={"protocol": "HTTP2", **SMALL}, listener=SMALL, route={"timeout_ms": 60000})
    ) as proxy,
):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", proxy.port("web")))
    sock.sendall(request_bytes("GET", "/big"))
    time.sleep(1.5)  # backed up: the proxy pauses the upstream
    sock.settimeout(4.0)
    got = b""
    try:
        while len(got) < BODY:
            data = sock.recv(1 << 16)
            if not data:
                break
            got += data
    except socket.timeout:
        pass
    sock.close()
body = got.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in got else b""
check(got.startswith(b"HTTP/1.1 200"), f"the client got {got[:40]!r}, not a 200")
check(
    len(body) == BODY,
    f"the client paused, then read on: {len(body)} of {BODY} body bytes came, then nothing for 4 s",
)
ok(f"the client paused, then read on, and got all {BODY} bytes")
