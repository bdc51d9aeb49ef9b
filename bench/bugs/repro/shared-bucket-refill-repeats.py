"""--concurrency 2 with a network local_ratelimit (max_tokens 2, 1 token every 2 s): the bucket is
shared by the workers (Envoy applies local rate limits per process) and each fill interval adds one
token, so after a burst empties it, 2.3 s later one connection of six is let through, not all."""

import time

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until, tcp_config

LIMIT = {"local_ratelimit": {"max_tokens": 2, "tokens_per_fill": 1, "fill_interval_ms": 2000}}


def served(port) -> bool:
    """One connection: True when "ping" came back echoed (a rate limited one is closed at once)."""
    with connect(port, timeout=2.0) as sock:
        try:
            sock.sendall(b"ping")
            return recv_until(sock, 4, timeout=2.0) == b"ping"
        except OSError:
            return False


with Upstream(echo) as up, Proxy(tcp_config(up.port, filters=[LIMIT]), args=("--concurrency", "2")) as proxy:
    port = proxy.port("tcp")
    first = [served(port) for _ in range(3)]
    time.sleep(2.3)  # one fill interval after the burst, not two
    second = [served(port) for _ in range(6)]
check(first == [True, True, False], f"a full bucket of 2 served {first}")
check(
    second.count(True) == 1,
    f"one fill interval after the bucket emptied, {second.count(True)} of 6 connections were served "
    f"({second}); tokens_per_fill is 1",
)
ok("one fill added one token, shared by both workers")
