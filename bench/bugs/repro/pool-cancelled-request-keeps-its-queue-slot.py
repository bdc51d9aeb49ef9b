"""A request waiting for an upstream connection whose client gives up leaves the queue: Envoy's pools
remove a cancelled pending stream at once, so it no longer counts against max_pending_requests. Here
max_connections 1 and max_pending_requests 1: one request keeps the connection busy, a second queues
and its client hangs up, then a third comes: it must be queued and served, not refused with a 503
(UO) as if the queue were still full."""

import threading

from _live import Proxy, Upstream, broken, check, connect, http1_app, http1_request, http_config, ok, wait_for

gate = threading.Event()


def respond(request):
    if request[1] == "/busy":
        gate.wait(10)  # busy until the third request has been answered or has queued
    return 200, [], b"done"


breakers = {"max_connections": 1, "circuit_breakers": {"max_pending_requests": 1}}
with Upstream(http1_app(respond)) as up, Proxy(http_config(up.port, cluster=breakers, admin=True)) as proxy:
    port = proxy.port("web")
    busy = threading.Thread(target=http1_request, args=(port, "GET", "/busy"))
    busy.start()
    if not wait_for(lambda: len(up.requests) == 1):
        broken("the first request did not reach the upstream")
    with connect(port) as sock:
        sock.sendall(b"GET /abandoned HTTP/1.1\r\nHost: repro\r\n\r\n")
        if not wait_for(lambda: proxy.stats().get("cluster.app.upstream_rq_pending_active") == 1):
            broken("the second request did not queue")
    # The client hung up: once the proxy has seen it, only /busy is an upstream request.
    if not wait_for(lambda: proxy.stats().get("cluster.app.upstream_rq_active") == 1):
        broken(f"the abandoned request still counts: {proxy.stats().get('cluster.app.upstream_rq_active')}")
    third: dict = {}
    client = threading.Thread(target=lambda: third.update(answer=http1_request(port, "GET", "/third")))
    client.start()
    wait_for(lambda: "answer" in third or proxy.stats().get("cluster.app.upstream_rq_pending_total") == 3)
    gate.set()
    client.join()
    busy.join()
status = third["answer"][0]
check(
    status == 200,
    f"the request after an abandoned queued one got {status}: the abandoned request kept the one pending slot",
)
ok("the abandoned request left the queue: the next one queued and was served (200)")
