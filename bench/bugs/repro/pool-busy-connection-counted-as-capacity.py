"""An HTTP/1.1 upstream connection carries one exchange at a time: a request that finds the cluster's
only connection busy gets a connection of its own while max_connections has room (Envoy's HTTP/1.1
pool), it does not queue behind the exchange in flight. Here the first request is a long poll the
upstream answers only once the second request has arrived: queued behind it, the second never
reaches the upstream and the long poll runs into the route timeout."""

import threading

from _live import Proxy, Upstream, broken, check, http1_app, http1_request, http_config, ok, wait_for

released = threading.Event()


def respond(request):
    method, target, *_ = request
    if target == "/poll":
        released.wait(10)  # a long poll: answered once the event it waits for happens
        return 200, [], b"event"
    released.set()
    return 200, [], b"posted"


with (
    Upstream(http1_app(respond)) as up,
    Proxy(http_config(up.port, route={"timeout_ms": 3000})) as proxy,
):
    port = proxy.port("web")
    statuses: dict = {}
    poll = threading.Thread(target=lambda: statuses.update(poll=http1_request(port, "GET", "/poll")[0]))
    poll.start()
    if not wait_for(lambda: len(up.requests) == 1):
        broken("the long poll never reached the upstream")
    statuses["post"] = http1_request(port, "POST", "/event", body=b"go")[0]
    poll.join()
check(
    statuses == {"poll": 200, "post": 200},
    f"a long poll in flight on the cluster's one connection, then a second request: got {statuses} over "
    f"{len(up.connections)} upstream connection(s) (the second waited behind the first)",
)
ok(f"the second request got a connection of its own ({len(up.connections)} upstream connections): {statuses}")
