"""tcp_proxy: when the upstream goes away, the downstream is closed (after its pending bytes are
flushed), also when one direction had already ended. An upstream that answers and close()s its
socket sends a FIN, then resets when more client bytes arrive; the client, which never half-closed,
must not be left with an open connection nobody serves (Envoy's TcpProxy closes the downstream
with FlushWrite on an upstream close). In memory, virtual time, no race."""

from _live import check, guarded, ok, tcp_pair_in_memory

from proxy.network.connection import State  # noqa: E402  (_live put this tree on sys.path)

dispatcher, down, client, upstream = tcp_pair_in_memory()
client.peer_send(b"hello")
guarded(dispatcher.run_posted)
guarded(upstream.peer_read)
upstream.peer_send(b"bye", end_stream=True)  # the answer, then close(): a FIN
guarded(dispatcher.run_posted)
client.peer_send(b"more")  # the client has not half-closed: it may still write
guarded(dispatcher.run_posted)
guarded(upstream.peer_reset)  # the closed upstream socket answers those bytes with a reset
guarded(dispatcher.run_posted)
guarded(client.peer_read)
check(bytes(client.received) == b"bye", f"the client read {bytes(client.received)!r} (b'bye' expected)")
check(
    down.state is State.CLOSED,
    f"the upstream sent its answer, a FIN, then reset; the downstream connection is still {down.state.name} "
    "(closed expected: nothing can serve it any more)",
)
ok("the downstream was closed after the upstream's answer and reset")
