"""A filter that holds a request (the fault filter's delay, Envoy's StopAllIterationAndWatermark)
holds its body within the buffer limit: above it the client is read no more until the filter goes on.
Here a delayed route takes a large upload with per_connection_buffer_limit_bytes 32 KiB: the client
gets only as far as the limit and the sockets' buffers allow while the delay runs, not the whole
upload into the proxy's memory."""

import socket
import time

from _live import Proxy, Upstream, check, connect, http1_app, http_config, ok

LIMIT = 32 * 1024
UPLOAD = 48 * 1024 * 1024
BOUND = 16 * 1024 * 1024  # the limit plus both sockets' buffers stay well under this on loopback

DELAYED = dict(filters=[{"fault": {"delay_ms": 20000}}], listener={"per_connection_buffer_limit_bytes": LIMIT})

with Upstream(http1_app(lambda request: (200, [], b"stored"))) as up, Proxy(http_config(up.port, **DELAYED)) as proxy:
    with connect(proxy.port("web")) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        sock.sendall(b"POST /upload HTTP/1.1\r\nhost: repro\r\ncontent-length: %d\r\n\r\n" % UPLOAD)
        sock.setblocking(False)
        chunk, sent = b"x" * 65536, 0
        last_progress = time.monotonic()
        while sent < UPLOAD and time.monotonic() - last_progress < 2.0:
            try:
                sent += sock.send(chunk[: UPLOAD - sent])
                last_progress = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)
check(
    sent < BOUND,
    f"a delayed route with per_connection_buffer_limit_bytes {LIMIT}: the proxy took {sent} of {UPLOAD} "
    "upload bytes while the fault delay held the request",
)
ok(f"the delayed upload stopped after {sent} bytes (limit {LIMIT})")
