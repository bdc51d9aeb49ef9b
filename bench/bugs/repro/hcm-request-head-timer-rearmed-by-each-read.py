"""A request head still arriving is bounded from its first byte (stream_idle_timeout_ms here; Envoy's
request_headers_timeout is the same idea): a client that trickles its head one byte at a time, each
well within the timeout of the last (slowloris), gets its 408 and the close once the timeout has run
from the head's first byte, however long it keeps trickling."""

import socket
import time

from _live import Proxy, Upstream, check, connect, http1_app, http_config, ok

TIMEOUT_MS = 1500
TRICKLE_S = 6.0  # four times the timeout: long enough for a timer that started with the head
STEP_S = 0.2

with (
    Upstream(http1_app(lambda request: (200, [], b"hi"))) as up,
    Proxy(http_config(up.port, hcm={"stream_idle_timeout_ms": TIMEOUT_MS})) as proxy,
):
    with connect(proxy.port("web")) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: repro\r\n")
        start, answer = time.monotonic(), b""
        sock.settimeout(STEP_S)
        while time.monotonic() - start < TRICKLE_S and not answer:
            try:
                sock.sendall(b"x")  # one more byte of a header name that never ends
                answer = sock.recv(4096)
            except socket.timeout:
                continue
            except ConnectionError:
                answer = b"<closed>"
        waited = time.monotonic() - start
check(
    bool(answer),
    f"a head trickled one byte every {STEP_S} s for {waited:.1f} s got no answer "
    f"(stream_idle_timeout_ms {TIMEOUT_MS} should bound it from its first byte)",
)
ok(f"the trickled head was answered after {waited:.1f} s: {answer[:24]!r}")
