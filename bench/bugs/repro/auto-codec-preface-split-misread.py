"""An AUTO listener speaks HTTP/2 to a prior-knowledge client however its connection preface is
split across TCP segments (here in three pieces)."""

import socket
import time

import h2.config
import h2.connection
import h2.events

from _live import Proxy, Upstream, check, connect, http1_app, http_config, ok

with (
    Upstream(http1_app(lambda request: (200, [], b"served"))) as up,
    Proxy(http_config(up.port, codec="AUTO")) as proxy,
):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()
    conn.send_headers(
        1, [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"repro"), (b":path", b"/")], end_stream=True
    )
    wire = conn.data_to_send()
    sock = connect(proxy.port("web"))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for piece in (wire[:6], wire[6:18], wire[18:]):  # "PRI * ", "HTTP/2.0\r\n\r\n", the rest
        sock.sendall(piece)
        time.sleep(0.2)
    got, status = b"", None
    deadline = time.monotonic() + 5
    while status is None and time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except (socket.timeout, ConnectionError):
            break
        if not data:
            break
        got += data
        if got.startswith(b"HTTP/"):
            break
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                status = int(dict(ev.headers)[b":status"])
        sock.sendall(conn.data_to_send())
    sock.close()
check(not got.startswith(b"HTTP/"), f"the split HTTP/2 preface was answered as HTTP/1.1: {got[:40]!r}")
check(status == 200, f"the HTTP/2 request after a split preface got {status!r}")
ok("the preface split in three was read as HTTP/2 (200)")
