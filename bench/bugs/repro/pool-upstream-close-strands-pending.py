"""max_connections 1: a request waiting for the cluster's one connection gets a new one when that
connection closes. Here the upstream closes each connection after its response (RFC 9112 9.6 allows
it without saying so), while two more requests wait: they must be answered, not left until the route
timeout.

The order of events is fixed, not left to timing: the upstream answers only once all three requests
went pending (upstream_rq_pending_total: each waits for the one connection; the counter, unlike the
upstream_rq_pending_active gauge, stays at 3 for the later connections) while this connection is busy,
so two of them still wait; its end of stream travels in the segment that carries the response
(TCP_CORK), as a server that closes at once looks on the wire. The
proxy reads the close before it could hand the connection to the next request, so a clean proxy opens
a new connection for each waiting request, and one that forgets them on a close strands them."""

import socket
import threading

from _live import Proxy, Upstream, broken, check, http1_request, http_config, ok, recv_until, wait_for

REQUESTS = 3
proxy: Proxy | None = None  # the upstream asks the proxy's admin how many requests it holds


def answer_then_close(sock, log) -> None:
    if b"\r\n\r\n" not in recv_until(sock, 1 << 16, 0.3):  # the request head, then a quiet moment
        return
    log.append("request")
    if not wait_for(lambda: proxy.stats().get("cluster.app.upstream_rq_pending_total", 0) >= REQUESTS, timeout=10):
        log.append("the proxy never queued every request")
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)  # the FIN rides with the response
    sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    sock.shutdown(socket.SHUT_WR)


with Upstream(answer_then_close) as up:
    config = http_config(up.port, cluster={"max_connections": 1}, route={"timeout_ms": 3000}, admin=True)
    with Proxy(config) as proxy:
        port = proxy.port("web")
        statuses: list = []
        clients = [
            threading.Thread(target=lambda: statuses.append(http1_request(port, "GET", "/")[0]))
            for _ in range(REQUESTS)
        ]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
if any(entry != "request" for log in up.connections for entry in log):
    broken(f"the upstream could not order its answers: {up.connections}")
check(
    statuses == [200] * REQUESTS,
    f"three GETs at once to a cluster of one connection whose upstream closes after each answer got {statuses} "
    f"({len(up.connections)} upstream connections)",
)
ok(f"three GETs at once, each answered 200 over {len(up.connections)} upstream connections in turn")
