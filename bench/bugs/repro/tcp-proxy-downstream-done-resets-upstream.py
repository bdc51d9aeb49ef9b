"""tcp_proxy half close, the client's side finishing first: the client sends 100 KB and ends its side
while the upstream is not reading yet; the upstream answers a few bytes and ends its own side; the
client reads them and its connection closes, both directions done. The upstream, reading late, must
still get all 100 KB and then the end of stream: the client's connection closing cleanly is not a
reason to throw away what it sent (RFC 9293 3.6; Envoy closes the other side with FlushWrite). In
memory through the proxy's build API."""

from _live import accept_in_memory, check, guarded, in_memory, ok, tcp_config

CONFIG = tcp_config(9000)
SIZE = 100_000

built, ctx, dispatcher, network = in_memory(CONFIG)
down, client = accept_in_memory(built, ctx, "tcp", ("127.0.0.1", 40000))
guarded(dispatcher.run_posted)
check(
    len(network.opened) == 1,
    f"tcp_proxy opened {len(network.opened)} upstream connections",
)
upstream = network.opened[0].io
client.peer_send(b"c" * SIZE, end_stream=True)  # the whole request, then the client's FIN
guarded(dispatcher.run_posted)
upstream.peer_send(b"done", end_stream=True)  # the upstream answers before reading it all
guarded(dispatcher.run_posted)
for _ in range(20):  # the client reads the answer and its end of stream
    guarded(client.peer_read)
    guarded(dispatcher.run_posted)
check(
    client.received == b"done" and client.peer_saw_end,
    f"the client read {client.received[:20]!r}",
)
for _ in range(100):  # now the upstream reads
    guarded(upstream.peer_read)
    guarded(dispatcher.run_posted)
got = len(upstream.received)
check(
    got == SIZE and upstream.peer_saw_end,
    f"after the client's connection finished both ways the upstream read {got} of the client's {SIZE} bytes "
    f"(end of stream: {upstream.peer_saw_end})",
)
ok(f"the upstream got all {SIZE} bytes and the end of stream after the client's side had closed")
