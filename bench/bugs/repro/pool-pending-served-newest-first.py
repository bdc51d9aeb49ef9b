"""Requests waiting for a connection are served in the order they came (Envoy's pools keep a FIFO
queue of pending streams): the oldest has waited longest and is closest to its timeout. Here a
cluster of one connection is busy and three more requests queue behind it one after the other: the
upstream must see them in that order."""

import threading

from _live import Proxy, Upstream, broken, check, http1_app, http1_request, http_config, ok, wait_for


gate = threading.Event()


def respond(request):
    if request[1] == "/busy":
        gate.wait(10)  # busy until the queue has formed behind it
    return 200, [], b"done"


with (
    Upstream(http1_app(respond)) as up,
    Proxy(http_config(up.port, cluster={"max_connections": 1}, admin=True)) as proxy,
):
    port = proxy.port("web")
    clients = []
    for i, target in enumerate(["/busy", "/first", "/second", "/third"]):
        client = threading.Thread(target=http1_request, args=(port, "GET", target))
        client.start()
        clients.append(client)
        if i == 0:
            arrived = wait_for(lambda: len(up.requests) == 1)
        else:
            arrived = wait_for(lambda: proxy.stats().get("cluster.app.upstream_rq_pending_active") == i)
        if not arrived:
            broken(
                f"request {target} was not where it should be: {proxy.stats().get('cluster.app.upstream_rq_pending_active')}"
            )
    gate.set()
    for client in clients:
        client.join()
order = [target for _, target, *_ in up.requests]
check(
    order == ["/busy", "/first", "/second", "/third"],
    f"three requests queued one after the other behind a busy connection reached the upstream as {order}",
)
ok(f"the queued requests reached the upstream in the order they came: {order}")
