"""Network fault throttle, upstream to client: with throttle_bytes_per_sec N the client gets at most N
bytes in the first second of its connection, whenever the connection started (semantics.md "network
fault filter": at most rate x (floor(elapsed s) + 1) bytes by any time, counted from accept). In
memory through the proxy's build API, with virtual time: the connection is accepted 700 ms after the
server started and the upstream sends 5000 bytes at once."""

from _live import accept_in_memory, check, guarded, in_memory, ok, tcp_config

RATE = 1000
CONFIG = tcp_config(9000, filters=[{"fault": {"throttle_bytes_per_sec": RATE}}])

built, ctx, dispatcher, network = in_memory(CONFIG)
dispatcher.advance(700)  # the server has run for a while before this client comes
down, client = accept_in_memory(built, ctx, "tcp", ("127.0.0.1", 40000))
guarded(dispatcher.run_posted)
check(len(network.opened) == 1, f"tcp_proxy opened {len(network.opened)} upstream connections")
upstream = network.opened[0].io
upstream.peer_send(b"x" * 5000)
got = 0
for step in range(9):  # 900 ms of the connection's first second, 100 ms at a time
    guarded(lambda: dispatcher.advance(100))
    got += len(client.peer_read())
check(
    got <= RATE,
    f"the client got {got} bytes in the first 900 ms of its connection; throttle_bytes_per_sec is {RATE}",
)
guarded(lambda: dispatcher.advance(200))
got += len(client.peer_read())
check(got > RATE, f"after 1.1 s the client had {got} bytes: the second second's allowance never came")
ok(f"the client got at most {RATE} bytes in its first second, more in the next")
