"""Network fault throttle, upstream to client: the bytes the throttle holds back count against the
connection's write watermarks, so tcp_proxy stops reading the upstream once about
per_connection_buffer_limit_bytes wait for the client (Envoy's flow control: no filter buffers
without bound). A 4 MiB upstream answer through throttle_bytes_per_sec 1000 and a 32 KiB limit:
the proxy reads a few reads' worth of it, not all. In memory through the proxy's build API."""

from _live import accept_in_memory, check, guarded, in_memory, ok, tcp_config

LIMIT, ANSWER = 32 * 1024, 4 * 1024 * 1024
CONFIG = tcp_config(
    9000,
    filters=[{"fault": {"throttle_bytes_per_sec": 1000}}],
    listener={"per_connection_buffer_limit_bytes": LIMIT},
)

built, ctx, dispatcher, network = in_memory(CONFIG)
down, client = guarded(lambda: accept_in_memory(built, ctx, "tcp", ("127.0.0.1", 40000)))
guarded(dispatcher.run_posted)
check(len(network.opened) == 1, f"tcp_proxy opened {len(network.opened)} upstream connections")
upstream = network.opened[0]
upstream.io.peer_send(b"x" * ANSWER)
for _ in range(5):
    guarded(lambda: dispatcher.advance(100))
    client.peer_read()
read = upstream.bytes_received
check(
    read <= 8 * LIMIT,
    f"the proxy read {read} bytes of the upstream's {ANSWER} while the throttle let the client have "
    f"{len(client.received)}: per_connection_buffer_limit_bytes is {LIMIT}",
)
ok(f"the proxy read {read} bytes of the upstream's answer and waited for the throttled client")
