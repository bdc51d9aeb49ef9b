"""Circuit breakers: a request that waited for a connection and was abandoned by its client no longer
counts as outstanding: upstream_rq_active returns to 0 and max_requests admits new requests."""

import threading

from _live import Proxy, Responses, Upstream, check, connect, http1_app, http_config, ok, request_bytes, wait_for

CONFIG = dict(
    route={"timeout_ms": 0}, admin=True, cluster={"max_connections": 1, "circuit_breakers": {"max_requests": 2}}
)
release = threading.Event()


def respond(request):
    if request[1] == "/hold":
        release.wait(5)
    return 200, [], b"done " + request[1].encode()


with Upstream(http1_app(respond)) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    port = proxy.port("web")
    holder = connect(port)
    holder.sendall(request_bytes("GET", "/hold"))  # takes the only connection
    wait_for(lambda: proxy.stats().get("cluster.app.upstream_rq_active") == 1)
    for _ in range(3):  # each waits for the connection, then gives up
        quitter = connect(port)
        quitter.sendall(request_bytes("GET", "/quit"))
        wait_for(lambda: proxy.stats().get("cluster.app.upstream_rq_pending_active") == 1)
        quitter.close()
        wait_for(lambda: proxy.stats().get("cluster.app.upstream_rq_pending_active") == 0)
    release.set()
    held = Responses(holder).next()
    holder.close()
    wait_for(lambda: proxy.stats().get("cluster.app.upstream_rq_active") == 0, timeout=2)
    active = proxy.stats().get("cluster.app.upstream_rq_active")
    with connect(port) as again:
        again.sendall(request_bytes("GET", "/after"))
        after = Responses(again).next()
check(held is not None and held[0] == 200, f"the held request got {held}")
check(
    active == 0,
    f"cluster.app.upstream_rq_active is {active} after every request ended (3 were abandoned "
    "while they waited for a connection)",
)
check(after is not None and after[0] == 200, f"a new request got {after} (max_requests 2, nothing outstanding)")
ok("abandoned pending requests released their circuit-breaker slots")
