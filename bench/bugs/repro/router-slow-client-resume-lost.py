"""A client that reads a large response slowly pauses the upstream (Envoy's downstream watermarks: the
router stops reading the upstream while the client's write buffer is above its limit) and, once it
has read enough, resumes it: the download must then run to the end. Here the listener's buffer limit
is 32 KiB, the upstream answers 8 MiB and the client reads nothing for a second, then everything."""

import time

from _live import Proxy, Upstream, check, connect, http1_app, http_config, ok, read_response

SIZE = 8 * 1024 * 1024

with (
    Upstream(http1_app(lambda request: (200, [], b"x" * SIZE))) as up,
    Proxy(http_config(up.port, listener={"per_connection_buffer_limit_bytes": 32768})) as proxy,
):
    with connect(proxy.port("web"), timeout=10) as sock:
        sock.sendall(b"GET /large HTTP/1.1\r\nHost: repro\r\n\r\n")
        time.sleep(1.0)  # a slow reader: the proxy's write buffer to it fills past the limit
        answer = read_response(sock)
check(answer is not None, "the 8 MiB download stalled after the client paused reading (no complete response in 10 s)")
status, _, body = answer
check(status == 200 and len(body) == SIZE, f"the download ended with {status} and {len(body)} of {SIZE} bytes")
ok(f"the slow reader got all {SIZE} bytes after resuming")
