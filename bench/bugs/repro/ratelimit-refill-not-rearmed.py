"""Local rate limit: an idle token bucket refills tokens_per_fill every fill_interval_ms up to max_tokens,
so after a pause a burst of max_tokens requests is admitted again."""

import time

from _live import Proxy, Responses, Upstream, check, connect, http1_app, http_config, ok, request_bytes

MAX_TOKENS, FILL_MS = 4, 100
CONFIG = dict(
    filters=[{"local_ratelimit": {"max_tokens": MAX_TOKENS, "tokens_per_fill": 1, "fill_interval_ms": FILL_MS}}]
)


def burst(port):
    """MAX_TOKENS requests pipelined in one write: the filter sees them at one instant."""
    with connect(port) as sock:
        sock.sendall(b"".join(request_bytes("GET", f"/{i}") for i in range(MAX_TOKENS)))
        responses = Responses(sock)
        return [(answer or (None,))[0] for answer in (responses.next() for _ in range(MAX_TOKENS))]


with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    first = burst(proxy.port("web"))
    check(first == [200] * MAX_TOKENS, f"a full bucket of {MAX_TOKENS} admitted {first}")
    time.sleep((MAX_TOKENS + 6) * FILL_MS / 1000)  # long enough to refill the bucket completely
    second = burst(proxy.port("web"))
check(
    second == [200] * MAX_TOKENS,
    f"after {MAX_TOKENS + 6} fill intervals idle the bucket (max_tokens {MAX_TOKENS}, 1 token per {FILL_MS} ms) "
    f"admitted only {second.count(200)} of {MAX_TOKENS} requests: {second}",
)
ok(f"the bucket refilled to {MAX_TOKENS} tokens while idle")
