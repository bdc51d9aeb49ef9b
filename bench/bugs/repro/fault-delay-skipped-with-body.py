"""HTTP fault delay: a request with a body must be held delay_ms like any other before it goes upstream."""

import time

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

DELAY_MS = 600
CONFIG = dict(filters=[{"fault": {"delay_ms": DELAY_MS}}])

arrivals = []


def respond(request):
    arrivals.append(time.monotonic())
    return 200, [], b"stored"


with Upstream(http1_app(respond)) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    sent = time.monotonic()
    status, _, body = http1_request(proxy.port("web"), "POST", "/upload", body=b"some form data")
check(status == 200 and len(arrivals) == 1, f"the POST got {status!r}, the upstream saw {len(arrivals)} requests")
held_ms = (arrivals[0] - sent) * 1000
check(
    held_ms >= DELAY_MS * 0.9,
    f"a POST with a body reached the upstream after {held_ms:.0f} ms; the fault filter's delay_ms is {DELAY_MS}",
)
ok(f"the POST was held {held_ms:.0f} ms (delay_ms {DELAY_MS})")
