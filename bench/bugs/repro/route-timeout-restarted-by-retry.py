"""The route timeout bounds the whole request, retries included (Envoy's RouteAction.timeout: the
global timeout "includes all retries"; only per_try_timeout is per attempt): with timeout_ms 250,
connect_timeout_ms 100 and num_retries 4 against an upstream whose connects never complete, the client
gets a 504 at 250 ms, not an answer after every retry ran out. In memory, with virtual time."""

from _live import accept_in_memory, check, guarded, http_config, in_memory, ok

CONFIG = http_config(
    9000,
    route={"retry_policy": {"num_retries": 4}, "timeout_ms": 250},
    cluster={"connect_timeout_ms": 100},
)
built, ctx, dispatcher, network = in_memory(CONFIG)
network.auto_connect = False  # every connect hangs until its connect timeout
conn, client = accept_in_memory(built, ctx, "web", ("127.0.0.1", 40000))
client.peer_send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
guarded(dispatcher.run_posted)
answer, elapsed = b"", 0
while not answer and elapsed < 1000:
    guarded(lambda: dispatcher.advance(10))
    guarded(dispatcher.run_posted)
    elapsed += 10
    answer = bytes(client.peer_read())
status_line = answer.split(b"\r\n", 1)[0]
check(
    answer.startswith(b"HTTP/1.1 504") and elapsed <= 260,
    f"route timeout_ms 250: the client got {status_line!r} after {elapsed} ms and "
    f"{len(network.opened)} connect attempts",
)
ok(f"the route timeout answered 504 after {elapsed} ms ({len(network.opened)} connect attempts by then)")
