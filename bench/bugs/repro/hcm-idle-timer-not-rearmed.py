"""HCM idle_timeout: a connection without active streams for idle_timeout_ms is closed, also after it
served requests (Envoy's common_http_protocol_options.idle_timeout: time since the last response)."""

import time

from _live import Proxy, Responses, Upstream, check, connect, http1_app, http_config, ok, recv_until, request_bytes

IDLE_MS = 300
CONFIG = dict(hcm={"idle_timeout_ms": IDLE_MS})


def closed_within(sock, seconds):
    """True when the proxy closed the connection (EOF) within `seconds`."""
    start = time.monotonic()
    rest = recv_until(sock, 1, timeout=seconds)
    return rest == b"" and time.monotonic() - start < seconds


with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    with connect(proxy.port("web")) as fresh:
        fresh_closed = closed_within(fresh, 2)
    with connect(proxy.port("web")) as used:
        used.sendall(request_bytes("GET", "/"))
        answer = Responses(used).next()
        used_closed = closed_within(used, 2)
check(fresh_closed, f"a connection that sent nothing was not closed within 2 s (idle_timeout_ms {IDLE_MS})")
check(answer is not None and answer[0] == 200, f"the request got {answer}")
check(
    used_closed,
    f"a keep-alive connection idle after its response stayed open for 2 s; idle_timeout_ms is "
    f"{IDLE_MS} (a connection that never sent a request was closed)",
)
ok(f"both idle connections were closed after idle_timeout_ms {IDLE_MS}")
