"""Network fault throttle_bytes_per_sec: at most that many of the client's bytes reach the upstream
per second, however the client writes them. In memory (virtual time): a throttle of 1000 bytes a
second in front of tcp_proxy; the client sends 10 writes of 300 bytes at once; before any time
passes the upstream may have read at most 1000 of those 3000 bytes."""

from _live import check, guarded, ok, tcp_pair_in_memory

dispatcher, down, client, upstream = tcp_pair_in_memory([{"fault": {"throttle_bytes_per_sec": 1000}}])
for _ in range(10):
    client.peer_send(b"x" * 300)
    guarded(dispatcher.run_posted)
guarded(upstream.peer_read)
first_second = len(upstream.received)
check(
    first_second <= 1000,
    f"with throttle_bytes_per_sec 1000 the upstream read {first_second} bytes before any time passed "
    "(the client wrote 3000 in 10 writes of 300)",
)
ok(f"the throttle let {first_second} of 3000 bytes through in the first second")
