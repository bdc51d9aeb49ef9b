"""tcp_proxy half close: after the upstream ended its side, the client's last bytes and its end of
stream still reach the upstream, all of them (in memory through the proxy's build API, where the
client's last bytes and its end of stream arrive in one read, as they can from a socket)."""

from _live import accept_in_memory, check, in_memory, ok, tcp_config

CONFIG = tcp_config(9000)

built, ctx, dispatcher, network = in_memory(CONFIG)
down, client = accept_in_memory(built, ctx, "tcp", ("127.0.0.1", 40000))
dispatcher.run_posted()
check(len(network.opened) == 1, f"tcp_proxy opened {len(network.opened)} upstream connections")
upstream = network.opened[0].io
upstream.peer_send(b"bye\n", end_stream=True)  # the upstream greets and ends its side
dispatcher.run_posted()
greeting = client.peer_read()
client.peer_send(b"last words", end_stream=True)  # the client's last bytes with its end of stream
dispatcher.run_posted()
upstream.peer_read()
check(
    greeting == b"bye\n" and client.peer_saw_end, f"the client got {greeting!r}, end of stream: {client.peer_saw_end}"
)
check(
    bytes(upstream.received) == b"last words" and upstream.peer_saw_end,
    f"after the upstream half-closed, the client's last bytes with its end of stream reached it as "
    f"{bytes(upstream.received)!r} (end of stream: {upstream.peer_saw_end})",
)
ok("the client's last bytes and end of stream reached the half-closed upstream")
