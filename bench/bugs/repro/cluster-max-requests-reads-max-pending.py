"""Circuit breakers: max_requests bounds the requests outstanding on a cluster, max_pending_requests only
those waiting for a connection. With max_requests 10 and max_pending_requests 1, three requests that
arrive one after the other (each on its upstream connection before the next comes) are all answered."""

import threading
import time

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok, wait_for

BREAKERS = {"circuit_breakers": {"max_requests": 10, "max_pending_requests": 1}}


def slow(request):
    time.sleep(1.0)
    return 200, [], b"ok"


with Upstream(http1_app(slow)) as up, Proxy(http_config(up.port, cluster=BREAKERS)) as proxy:
    port = proxy.port("web")
    results = {}

    def ask(i):
        results[i] = http1_request(port, "GET", f"/{i}")[0]

    threads = []
    for i in range(3):
        threads.append(threading.Thread(target=ask, args=(i,)))
        threads[-1].start()
        wait_for(lambda: len(up.requests) > i or i in results, timeout=3)
    for t in threads:
        t.join(10)
statuses = [results.get(i) for i in range(3)]
check(
    statuses == [200, 200, 200],
    f"three requests in flight on a cluster with max_requests 10 (max_pending_requests 1) got {statuses}",
)
ok("three outstanding requests fit max_requests 10")
