"""Local rate limit (Envoy's token bucket): each fill interval adds tokens_per_fill tokens, never more. With
max_tokens 4 and 1 token every 2 s, a burst of four empties the bucket and 2.5 s later exactly one
more request is admitted."""

import time

from _live import Proxy, Responses, Upstream, check, connect, http1_app, http_config, ok, request_bytes

MAX_TOKENS, FILL_MS = 4, 2000
CONFIG = dict(
    filters=[{"local_ratelimit": {"max_tokens": MAX_TOKENS, "tokens_per_fill": 1, "fill_interval_ms": FILL_MS}}]
)


def burst(port):
    with connect(port) as sock:
        sock.sendall(b"".join(request_bytes("GET", f"/{i}") for i in range(MAX_TOKENS)))
        responses = Responses(sock)
        return [(answer or (None,))[0] for answer in (responses.next() for _ in range(MAX_TOKENS))]


with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    first = burst(proxy.port("web"))
    time.sleep(2.5)  # one fill (2 s after the first request), not two
    second = burst(proxy.port("web"))
check(first == [200] * MAX_TOKENS, f"a full bucket of {MAX_TOKENS} admitted {first}")
check(
    second.count(200) == 1,
    f"one fill interval after the bucket emptied, {second.count(200)} requests were admitted ({second}); "
    "tokens_per_fill is 1",
)
ok("one fill added one token")
