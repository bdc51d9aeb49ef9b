"""Route timeout (Envoy's RouteAction.timeout): it spans until the upstream response is complete, so an
upstream that sends its headers and then stalls the body is cut at the timeout (the client sees the
stream end), not held until the stream idle timeout (5 min)."""

import time

from _live import Proxy, Upstream, check, connect, http_config, ok, recv_until, request_bytes


def stall_after_headers(sock, log) -> None:
    sock.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    log.append(("request", data))
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nfirst bytes")
    time.sleep(20)


with Upstream(stall_after_headers) as up, Proxy(http_config(up.port, route={"timeout_ms": 500})) as proxy:
    with connect(proxy.port("web"), timeout=8) as sock:
        sock.sendall(request_bytes("GET", "/slow"))
        started = time.monotonic()
        got = recv_until(sock, 1 << 20, timeout=8)  # until the proxy closes or stays silent 8 s
        waited = time.monotonic() - started
check(got.startswith(b"HTTP/1.1 200"), f"the response head did not come through: {got[:60]!r}")
check(
    waited < 5,
    f"an upstream stalled after its headers held the response {waited:.1f} s past a 500 ms route timeout",
)
ok(f"the stalled response was cut after {waited:.1f} s (route timeout 500 ms)")
