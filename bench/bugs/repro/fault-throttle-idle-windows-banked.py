"""Network fault throttle_bytes_per_sec: at most that many bytes a second reach the upstream, also
after the connection was idle: quiet seconds are not saved up into a later burst (a bandwidth limit
a user sets to model a slow link, or to protect a slow upstream). In memory, virtual time: a
throttle of 1000 bytes a second in front of tcp_proxy; the client sends 100 bytes, is quiet for
ten seconds, then sends 20,000 at once; before more time passes at most 1000 may reach the upstream."""

from _live import check, guarded, ok, tcp_pair_in_memory

dispatcher, down, client, upstream = tcp_pair_in_memory([{"fault": {"throttle_bytes_per_sec": 1000}}])
client.peer_send(b"x" * 100)
guarded(dispatcher.run_posted)
guarded(upstream.peer_read)
check(len(upstream.received) == 100, f"the upstream read {len(upstream.received)} of the first 100 bytes")
guarded(lambda: dispatcher.advance(10_000))  # ten quiet seconds
client.peer_send(b"y" * 20_000)
guarded(dispatcher.run_posted)
guarded(upstream.peer_read)
burst = len(upstream.received) - 100
check(
    burst <= 1000,
    f"with throttle_bytes_per_sec 1000, after ten idle seconds the upstream read {burst} bytes of a "
    "20,000-byte write before any more time passed (at most 1000 expected)",
)
ok(f"after ten idle seconds the throttle let {burst} of 20,000 bytes through at once")
