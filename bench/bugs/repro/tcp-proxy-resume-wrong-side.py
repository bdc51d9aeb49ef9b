"""tcp_proxy backpressure: when a slow client has read everything the proxy buffered for it, the proxy
reads from the upstream again and the rest of the upstream's data arrives (in memory through the
build API: a client that reads only when it wants to)."""

from _live import accept_in_memory, check, guarded, in_memory, ok, tcp_config

CONFIG = tcp_config(9000, listener={"per_connection_buffer_limit_bytes": 1024})

built, ctx, dispatcher, network = in_memory(CONFIG)
down, client = accept_in_memory(built, ctx, "tcp", ("127.0.0.1", 40000))
dispatcher.run_posted()
upstream = network.opened[0].io
upstream.peer_send(b"a" * 4000)  # over the client's write buffer limit: upstream reads pause
dispatcher.run_posted()
upstream.peer_send(b"b" * 4000)  # waits while reads are paused
dispatcher.run_posted()
received = bytearray()
for _ in range(10):  # the client reads everything there is, a few times
    received += guarded(client.peer_read)
    guarded(dispatcher.run_posted)
check(
    bytes(received) == b"a" * 4000 + b"b" * 4000,
    f"the client read everything it was sent, yet got {len(received)} of 8000 bytes; {len(upstream.inbound)} "
    "bytes still wait in the upstream socket: upstream reads were never resumed",
)
ok("all 8000 bytes arrived once the slow client read")
