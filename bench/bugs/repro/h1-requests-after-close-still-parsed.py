"""A request with `Connection: close` is the last one on its connection (RFC 9112 9.6): a request
pipelined after it is never processed, so it never reaches the upstream."""

import time

from _live import Proxy, Upstream, check, connect, http1_app, http_config, ok, recv_until

with (
    Upstream(http1_app(lambda request: (200, [], b"done"))) as up,
    Proxy(http_config(up.port)) as proxy,
):
    with connect(proxy.port("web")) as sock:
        sock.sendall(
            b"GET /first HTTP/1.1\r\nHost: repro\r\nConnection: close\r\n\r\n"
            b"DELETE /second HTTP/1.1\r\nHost: repro\r\n\r\n"
        )
        answer = recv_until(sock, 1 << 20, timeout=2.0)
    time.sleep(0.3)
    targets = [target for _, target, *_ in up.requests]
check(answer.startswith(b"HTTP/1.1 200"), f"the first request got {answer[:40]!r}")
check(
    targets == ["/first"],
    f"after a request with Connection: close, the upstream received {targets}: "
    "the request pipelined behind it was processed although the connection was ending",
)
ok("only the request with Connection: close reached the upstream; the one behind it was not processed")
