"""Route timeout: counted from the end of the request, for a request with a body too; an upstream that
never answers gets the client a 504 after timeout_ms."""

import time

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

TIMEOUT_MS = 300
CONFIG = dict(route={"timeout_ms": TIMEOUT_MS})

with Upstream(http1_app(lambda request: None)) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    outcomes = {}
    for method, body in (("GET", b""), ("POST", b"payload")):
        start = time.monotonic()
        status, _, _ = http1_request(proxy.port("web"), method, "/hang", body=body, timeout=3)
        outcomes[method] = (status, round((time.monotonic() - start) * 1000))
check(outcomes["GET"][0] == 504, f"a GET to a silent upstream got {outcomes['GET']}, not a 504")
check(
    outcomes["POST"][0] == 504,
    f"a POST with a body to a silent upstream got no answer in 3 s "
    f"({outcomes['POST']}); the route's timeout_ms is {TIMEOUT_MS} (the GET got its 504 after {outcomes['GET'][1]} ms)",
)
ok(f"both got 504 after the route timeout: {outcomes}")
