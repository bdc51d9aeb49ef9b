"""tcp_proxy flushes the downstream when the upstream closes: a client that sent its request, half-closed
and reads the 16 MiB reply slowly gets every byte of it, although the upstream closed as soon as it had
sent the reply (the proxy still held part of it for the slow client)."""

import socket
import time

from _live import Proxy, Upstream, check, ok, tcp_config

REPLY = bytes(range(256)) * (16 * 4096)


def origin(sock, log) -> None:
    """Reads the request to its end, sends the reply, closes."""
    while sock.recv(65536):
        pass
    sock.sendall(REPLY)
    sock.shutdown(socket.SHUT_WR)


def read_slowly(sock, limit_s: float = 20.0) -> bytes:
    """64 KiB every 5 ms until the proxy closes (or the limit): a client slower than the upstream."""
    got, deadline = bytearray(), time.monotonic() + limit_s
    sock.settimeout(2.0)
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except (socket.timeout, ConnectionError):
            break
        if not data:
            break
        got += data
        time.sleep(0.005)
    return bytes(got)


with Upstream(origin) as up, Proxy(tcp_config(up.port)) as proxy:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # a small window: the proxy holds the rest
        sock.connect(("127.0.0.1", proxy.port("tcp")))
        sock.sendall(b"GET everything\n")
        sock.shutdown(socket.SHUT_WR)
        got = read_slowly(sock)
check(
    got == REPLY,
    f"the upstream sent {len(REPLY)} bytes and closed; the slow client received {len(got)}"
    + ("" if REPLY.startswith(got) else " (not a prefix of them)"),
)
ok(f"all {len(REPLY)} bytes the upstream sent before its close reached the slow client")
