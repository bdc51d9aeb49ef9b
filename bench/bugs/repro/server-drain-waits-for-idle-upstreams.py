"""Drain on SIGTERM: once no client connection is left, the proxy stops at once; the upstream
connections its pools still hold are idle (they serve clients, and there are none) and are closed
without waiting for the drain timeout (5 s). Here one keep-alive request leaves an idle HTTP/1.1
upstream connection; the client has gone when the proxy gets SIGTERM."""

import signal
import time

from _live import (
    Proxy,
    Upstream,
    check,
    http1_app,
    http1_request,
    http_config,
    ok,
    wait_for,
)

with (
    Upstream(http1_app(lambda req: (200, [], b"hi"))) as up,
    Proxy(http_config(up.port)) as proxy,
):
    status, _, body = http1_request(proxy.port("web"), "GET", "/")
    check(status == 200, f"a plain GET got {status}")
    wait_for(lambda: False, timeout=0.3)  # let the proxy see the client's close
    started = time.monotonic()
    proxy.proc.send_signal(signal.SIGTERM)
    proxy.proc.wait(timeout=30)
    took = time.monotonic() - started
    wait_for(lambda: False, timeout=0.2)  # the status reader takes the last lines
    timed_out = [line for line in proxy.lines if "drain timeout" in line]
check(
    not timed_out,
    f"no client was left, yet the drain waited for its timeout ({took:.1f} s to exit): {timed_out}",
)
ok(f"the proxy stopped {took:.1f} s after SIGTERM with no client left")
