"""circuit_breakers.max_connections caps the connections to a cluster also when the cluster's own
max_connections is unset (its default, 1024, is no reason to ignore the stricter breaker; the
proxy's defaults.cluster_max_connections: whichever is smaller). With the breaker at 1, a second
request waits for the one connection while a first request holds it."""

import threading
import time

from _live import Proxy, Responses, Upstream, check, connect, http1_app, http_config, ok, request_bytes, wait_for

release = threading.Event()


def respond(request):
    if request[1] == "/hold":
        release.wait(5)
    return 200, [], b"done"


CONFIG = dict(route={"timeout_ms": 0}, cluster={"circuit_breakers": {"max_connections": 1}})

with Upstream(http1_app(respond)) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    holder = connect(proxy.port("web"))
    holder.sendall(request_bytes("GET", "/hold"))
    wait_for(lambda: len(up.requests) == 1)
    second = connect(proxy.port("web"))
    second.sendall(request_bytes("GET", "/second"))
    time.sleep(0.5)
    opened_while_held = len(up.connections)
    release.set()
    answers = [Responses(holder).next(), Responses(second).next()]
    holder.close()
    second.close()
check(all(a is not None and a[0] == 200 for a in answers), f"the two requests got {answers}")
check(
    opened_while_held == 1,
    f"the proxy opened {opened_while_held} connections to the cluster while one request held the first; "
    "circuit_breakers.max_connections is 1",
)
ok("the second request waited for the only connection the circuit breaker allows")
