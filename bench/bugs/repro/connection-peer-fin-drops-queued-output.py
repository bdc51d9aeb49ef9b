"""tcp_proxy half close: the upstream sends 200 KB and ends its side; the client, not reading yet,
ends its own side (shutdown(SHUT_WR), as `nc -N` does once its input is sent), then reads. It must
still get all 200 KB and then the end of stream: its FIN says it has nothing more to send, not that
it wants nothing more (RFC 9293 3.6). In memory through the proxy's build API."""

from _live import accept_in_memory, check, guarded, in_memory, ok, tcp_config

CONFIG = tcp_config(9000)
SIZE = 200_000

built, ctx, dispatcher, network = in_memory(CONFIG)
down, client = accept_in_memory(built, ctx, "tcp", ("127.0.0.1", 40000))
guarded(dispatcher.run_posted)
check(len(network.opened) == 1, f"tcp_proxy opened {len(network.opened)} upstream connections")
upstream = network.opened[0].io
upstream.peer_send(b"d" * SIZE, end_stream=True)
guarded(dispatcher.run_posted)
client.peer_read(10_000)  # the client has read a little
client.peer_send(b"", end_stream=True)  # and ends its side before reading the rest
guarded(dispatcher.run_posted)
for _ in range(100):
    guarded(client.peer_read)
    guarded(dispatcher.run_posted)
got = len(client.received)
check(
    got == SIZE and client.peer_saw_end,
    f"after the client half-closed it read {got} of the upstream's {SIZE} bytes (end of stream: {client.peer_saw_end})",
)
ok(f"the client got all {SIZE} bytes and the end of stream after its own half close")
