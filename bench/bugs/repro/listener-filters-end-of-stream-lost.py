"""Listener filters: an end of stream that arrives while they run is not lost. A client that sends
only a PROXY protocol header and then ends its side (a health check, or a client with nothing to
say) has its end of stream passed on once the header is read: tcp_proxy half-closes the upstream,
which can answer and close, and the connection ends (in memory through the proxy's build API,
where the header and the end of stream arrive in one read, as they can from a socket)."""

from _live import accept_in_memory, check, guarded, in_memory, ok, tcp_config

CONFIG = tcp_config(9000, listener={"listener_filters": [{"proxy_protocol": {}}]})

built, ctx, dispatcher, network = in_memory(CONFIG)
down, client = accept_in_memory(built, ctx, "tcp", ("127.0.0.1", 40000))
client.peer_send(b"PROXY TCP4 192.0.2.1 198.51.100.1 5000 80\r\n", end_stream=True)
guarded(dispatcher.run_posted)
check(len(network.opened) == 1, f"tcp_proxy opened {len(network.opened)} upstream connections")
upstream = network.opened[0].io
guarded(dispatcher.run_posted)
upstream.peer_read()
check(
    upstream.peer_saw_end,
    "the client sent a PROXY header and ended its side; the upstream never saw the end of stream "
    f"(received {bytes(upstream.received)!r})",
)
upstream.peer_send(b"bye", end_stream=True)
guarded(dispatcher.run_posted)
check(client.peer_read() == b"bye" and client.peer_saw_end, "the upstream's answer and end did not reach the client")
ok("the client's end of stream passed the listener filters and reached the upstream")
