"""An HTTP/2 upstream that allows one stream at a time (SETTINGS_MAX_CONCURRENT_STREAMS 1): the proxy never
opens a second stream on that connection (RFC 9113 5.1.2); a second concurrent request waits or gets a
connection of its own, and both are answered."""

import threading
import time

from _live import Proxy, Upstream, check, h2_app, http1_request, http_config, ok


def slow(path):
    time.sleep(0.8)
    return 200, b"ok"


with (
    Upstream(h2_app(slow, settings={0x3: 1})) as up,
    Proxy(http_config(up.port, cluster={"protocol": "HTTP2"})) as proxy,
):
    port = proxy.port("web")
    results = {}

    def ask(i):
        results[i] = http1_request(port, "GET", f"/{i}")[0]

    first = threading.Thread(target=ask, args=(0,))
    first.start()
    time.sleep(0.3)  # the upstream connection is up and its SETTINGS read
    ask(1)
    first.join(10)
statuses = [results.get(0), results.get(1)]
errors = [e for log in up.connections for e in log if isinstance(e, str) and e.startswith("upstream error")]
check(
    statuses == [200, 200],
    f"two concurrent requests to an upstream allowing one stream per connection got {statuses} {errors[:1]}",
)
ok("both requests were answered without exceeding the upstream's stream limit")
