"""The HTTP local_ratelimit filter's token bucket is shared by every request of the listener in this
instance (Envoy's local rate limit: one bucket per filter configuration unless
local_rate_limit_per_downstream_connection is set): a client cannot get more requests through by
opening more connections. Here max_tokens 1 and a fill interval of 60 s: one request on a keep-alive
connection is served; a second request, on a second connection opened while the first is still
open, is refused with 429."""

from _live import (
    Proxy,
    Upstream,
    check,
    connect,
    http1_app,
    http1_request,
    http_config,
    ok,
    read_response,
    request_bytes,
)

limit = {"local_ratelimit": {"max_tokens": 1, "tokens_per_fill": 1, "fill_interval_ms": 60000}}
with (
    Upstream(http1_app(lambda request: (200, [], b"served"))) as up,
    Proxy(http_config(up.port, filters=[limit])) as proxy,
):
    with connect(proxy.port("web")) as first_connection:
        first_connection.sendall(request_bytes("GET", "/one"))
        first = read_response(first_connection)
        second, _, _ = http1_request(proxy.port("web"), "GET", "/two")  # a new connection, the first still open
check(first is not None and first[0] == 200, f"the first request got {first and first[0]}, not 200")
check(
    second == 429,
    f"with one token per minute a second request on a second connection got {second}, not 429: "
    "each connection had a bucket of its own",
)
ok("the bucket was shared: the request on a second connection was rate limited (429)")
