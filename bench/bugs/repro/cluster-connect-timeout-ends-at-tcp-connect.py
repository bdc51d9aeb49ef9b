"""connect_timeout_ms covers the upstream TLS handshake: an upstream that accepts TCP and never answers the
ClientHello fails the request at the connect timeout (503, `upstream_cx_connect_timeout`), long before the
route timeout."""

import time

from _live import Proxy, Upstream, check, http1_request, http_config, ok


def silent(sock, log) -> None:
    """Accepts the connection and never says anything (a black-holed TLS backend)."""
    sock.settimeout(30)
    while sock.recv(65536):
        pass


TLS = {"common_tls_context": {}}
with Upstream(silent) as up:
    config = http_config(
        up.port, cluster={"tls_context": TLS, "connect_timeout_ms": 500}, route={"timeout_ms": 20000}, admin=True
    )
    with Proxy(config) as proxy:
        start = time.monotonic()
        status, _, body = http1_request(proxy.port("web"), "GET", "/", timeout=8.0)
        took = time.monotonic() - start
        timeouts = proxy.stats().get("cluster.app.upstream_cx_connect_timeout", 0)
check(
    status == 503 and timeouts >= 1,
    f"a TLS upstream that never answers the ClientHello, connect_timeout_ms 500: the client got {status} "
    f"after {took:.1f} s, upstream_cx_connect_timeout {timeouts}",
)
ok(f"the handshake that never finished failed at the connect timeout (503 after {took:.1f} s)")
