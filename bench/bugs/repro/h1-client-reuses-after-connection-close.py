"""An upstream response with `Connection: close` ends that upstream connection (RFC 9112 9.6): the
proxy never sends another request on it. Here the upstream answers with `Connection: close` and
closes its socket only a moment later, as servers do: the next request must get a new connection."""

import socket
import time

from _live import Proxy, Upstream, check, http1_request, http_config, ok


def close_after_one(sock, log) -> None:
    """Reads one request head, answers it with Connection: close, waits 3 s, closes."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            return
        data += piece
    log.append(data.split(b"\r\n", 1)[0])
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    time.sleep(3.0)
    sock.shutdown(socket.SHUT_RDWR)


with Upstream(close_after_one) as up, Proxy(http_config(up.port)) as proxy:
    first = http1_request(proxy.port("web"), "GET", "/one")[0]
    time.sleep(0.2)
    start = time.monotonic()
    second = http1_request(proxy.port("web"), "GET", "/two", timeout=8.0)[0]
    took = time.monotonic() - start
    connections = len(up.connections)
check(first == 200, f"the first request got {first}")
check(
    second == 200 and took < 2.0,
    f"after a response with Connection: close, the next request got {second} after {took:.1f} s "
    f"({connections} upstream connections): it was sent on the connection the upstream was closing",
)
ok(f"the next request went on a new upstream connection ({connections} in all) and got 200")
