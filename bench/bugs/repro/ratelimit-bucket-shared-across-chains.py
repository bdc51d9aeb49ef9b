"""Network local rate limit: "each filter and filter chain has an independent rate limit" (Envoy's
local_ratelimit docs). Two listeners, each allowing one connection a minute: a connection to the first
leaves the second's token alone, so one connection to each is served."""

import json

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until

LIMIT = {"local_ratelimit": {"max_tokens": 1, "tokens_per_fill": 1, "fill_interval_ms": 60000}}


def listener(name: str) -> dict:
    chain = {"filters": [LIMIT, {"tcp_proxy": {"cluster": "app"}}]}
    return {"name": name, "address": {"host": "127.0.0.1", "port": 0}, "filter_chains": [chain]}


def ping(port: int) -> bytes:
    with connect(port) as sock:
        sock.sendall(b"ping")
        return recv_until(sock, 4, timeout=2.0)


with Upstream(echo) as up:
    cluster = {"name": "app", "endpoints": [{"host": "127.0.0.1", "port": up.port}]}
    config = {"listeners": [listener("public"), listener("internal")], "clusters": [cluster]}
    with Proxy(json.dumps(config)) as proxy:
        public = ping(proxy.port("public"))
        internal = ping(proxy.port("internal"))
check(public == b"ping", f"the first connection to the public listener got {public!r}")
check(
    internal == b"ping",
    f"the first connection to the internal listener got {internal!r}: the public listener's connection "
    "took its only token",
)
ok("each listener's rate limiter let its own first connection through")
