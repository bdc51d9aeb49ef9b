"""A cluster's per_connection_buffer_limit_bytes bounds what the proxy holds for each upstream
connection (Envoy: the buffer limit of the upstream connection; above it the downstream is read no
more). A client uploading fast to an upstream that reads nothing leaves the proxy holding about that
limit (plus one read of the client's), not the 1 MiB default."""

import socket
import time

from _live import Proxy, Upstream, check, connect, ok, tcp_config

LIMIT = 32 * 1024
UPLOAD = 32 * 1024 * 1024


def never_reads(sock, log) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    time.sleep(8)


cluster = {"per_connection_buffer_limit_bytes": LIMIT}
listener = {"per_connection_buffer_limit_bytes": LIMIT}

with Upstream(never_reads) as up, Proxy(tcp_config(up.port, cluster=cluster, listener=listener, admin=True)) as proxy:
    with connect(proxy.port("tcp")) as sock:
        sock.setblocking(False)
        chunk, sent, deadline = b"x" * 65536, 0, time.monotonic() + 3
        while sent < UPLOAD and time.monotonic() < deadline:
            try:
                sent += sock.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
        time.sleep(0.5)
        held = proxy.stats().get("server.buffered_bytes")
check(
    held is not None and held <= 4 * LIMIT,
    f"cluster and listener per_connection_buffer_limit_bytes {LIMIT}: the proxy holds {held} bytes of an upload "
    f"the upstream does not read ({sent} sent)",
)
ok(f"the proxy held {held} bytes (limit {LIMIT}) of an upload the upstream does not read")
