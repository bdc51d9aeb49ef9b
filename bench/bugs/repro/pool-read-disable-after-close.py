"""Connection pool + slow client: an HTTP/1.1 upstream connection that finished its exchange goes back
to the pool able to read, so the next request on it gets the upstream's answer (issue 13 defect 9's
scenario, in memory through the build API: a response larger than the client's buffer arrives in one
read while the client reads slowly)."""

from _live import accept_in_memory, check, guarded, http_config, in_memory, ok

CONFIG = http_config(
    9000,
    route={"timeout_ms": 5000},
    cluster={"max_connections": 1},
    listener={"per_connection_buffer_limit_bytes": 1024},
)
BIG = b"HTTP/1.1 200 OK\r\ncontent-length: 4000\r\n\r\n" + b"x" * 4000

built, ctx, dispatcher, network = in_memory(CONFIG)
slow, slow_client = accept_in_memory(built, ctx, "web", ("127.0.0.1", 40000))
slow_client.peer_send(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
guarded(dispatcher.run_posted)
upstream = network.opened[0].io
upstream.peer_read()
upstream.peer_send(BIG)  # the whole response in one read, over the client's buffer
guarded(dispatcher.run_posted)
got = bytearray()
for _ in range(20):  # the slow client reads a little at a time
    got += guarded(lambda: slow_client.peer_read(300))
    guarded(dispatcher.run_posted)
second, second_client = accept_in_memory(built, ctx, "web", ("127.0.0.1", 40001))
second_client.peer_send(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
guarded(dispatcher.run_posted)
reused = len(network.opened) == 1
upstream.peer_read()
upstream.peer_send(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext")
guarded(dispatcher.run_posted)
answer = bytes(second_client.peer_read())
guarded(lambda: dispatcher.advance(6000))
late = bytes(second_client.peer_read())
check(got.endswith(b"x" * 100) and len(got) >= 4000, f"the slow client got {len(got)} bytes of the big response")
check(reused, f"the second request opened a new upstream connection ({len(network.opened)})")
check(
    answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"next"),
    f"the second request, on the pooled connection, got {answer[:40]!r} before the route timeout "
    f"(after it: {late[:40]!r}): the connection went back to the pool unable to read",
)
ok("the pooled connection read the next response")
