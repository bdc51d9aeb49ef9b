"""Network local_ratelimit: the bucket fills at fixed times, start + k x fill_interval_ms, from its
first use (Envoy's fill_interval; docs/semantics.md "token bucket timing"), whenever tokens are
taken. max_tokens 2, 1 token per 1000 ms: one connection at 0 ms (the fill at 1000 ms fills the
bucket again), two at 1600 ms (empty), one at 2100 ms, after the fill due at 2000 ms: allowed. In
memory through the proxy's build API, with virtual time."""

from _live import accept_in_memory, check, guarded, in_memory, ok, tcp_config

CONFIG = tcp_config(
    9000, filters=[{"local_ratelimit": {"max_tokens": 2, "tokens_per_fill": 1, "fill_interval_ms": 1000}}]
)

built, ctx, dispatcher, network = in_memory(CONFIG)
port = iter(range(40000, 40100))


def connect():
    conn, _ = guarded(lambda: accept_in_memory(built, ctx, "tcp", ("127.0.0.1", next(port))))
    guarded(dispatcher.run_posted)
    return conn is not None and conn.is_open


check(connect(), "the first connection of a full bucket was refused")
guarded(lambda: dispatcher.advance(1600))
check(connect() and connect(), "two connections at 1600 ms, the bucket full again since 1000 ms: one was refused")
guarded(lambda: dispatcher.advance(500))
check(
    connect(),
    "a connection at 2100 ms was rate limited, although the fill due at 2000 ms (fill_interval 1000 ms from the "
    "bucket's start at 0) had added a token",
)
ok("the fill at 2000 ms came on the bucket's period and admitted the connection at 2100 ms")
