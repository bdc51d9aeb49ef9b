"""Backpressure: once a slow client drains the proxy's write buffer down to its low watermark (half the
per-connection buffer limit), the proxy reads from the upstream again (Envoy: below-low fires when the
buffer is at or under the low watermark). In memory through the build API, where the client can read
exactly that much."""

from _live import accept_in_memory, check, in_memory, ok, tcp_config

CONFIG = tcp_config(9000, listener={"per_connection_buffer_limit_bytes": 1024})
LOW = (1024 + 1) // 2  # the write buffer's low watermark for a 1024-byte limit

built, ctx, dispatcher, network = in_memory(CONFIG)
down, client = accept_in_memory(built, ctx, "tcp", ("127.0.0.1", 40000))
dispatcher.run_posted()
upstream = network.opened[0].io
upstream.peer_send(b"a" * 4000)  # over the client's write buffer limit: upstream reads pause
dispatcher.run_posted()
upstream.peer_send(b"b" * 4000)  # waits in the upstream socket while reads are paused
dispatcher.run_posted()
held_before = len(upstream.inbound)
client.peer_read(len(down.write_buffer) - LOW)  # the slow client drains the buffer to its low watermark
dispatcher.run_posted()
check(held_before == 4000, f"the proxy did not pause the upstream at its write buffer limit (held {held_before})")
check(
    len(upstream.inbound) == 0,
    f"with the client's write buffer drained to its low watermark ({LOW} bytes left) "
    f"the proxy still does not read the upstream: {len(upstream.inbound)} bytes wait there",
)
ok(f"reads from the upstream resumed at the low watermark ({LOW} bytes)")
