"""max_connections 1: a request waiting for the cluster's one connection gets a new one when that
connection closes. Here the upstream closes each connection after its response (RFC 9112 9.6 allows
it without saying so), while a second request waits: it must be answered, not left until the route
timeout."""

import threading

from _live import Proxy, Upstream, check, http1_request, http_config, ok, recv_until


def one_each(sock, log) -> None:
    if b"\r\n\r\n" not in recv_until(sock, 1 << 16, 0.3):  # the request head, then a quiet moment
        return
    log.append("request")
    sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")


with (
    Upstream(one_each) as up,
    Proxy(http_config(up.port, cluster={"max_connections": 1}, route={"timeout_ms": 3000})) as proxy,
):
    port = proxy.port("web")
    statuses: list = []
    clients = [threading.Thread(target=lambda: statuses.append(http1_request(port, "GET", "/")[0])) for _ in range(3)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
check(
    statuses == [200, 200, 200],
    f"three GETs at once to a cluster of one connection whose upstream closes after each answer got {statuses} "
    f"({len(up.connections)} upstream connections)",
)
ok(f"three GETs at once, each answered 200 over {len(up.connections)} upstream connections in turn")
