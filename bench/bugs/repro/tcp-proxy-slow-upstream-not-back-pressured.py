"""tcp_proxy flow control, both ways (Envoy's per_connection_buffer_limit_bytes and watermarks): when
the upstream does not read, what the proxy holds for it stays near the cluster's buffer limit and
the client is read no further. In memory: a client sends 8 MiB through tcp_proxy to an upstream
that reads nothing (the buffer limit is 1 MiB); the proxy may hold about 1 MiB for the upstream
(plus one read), the rest must stay with the client."""

from _live import check, guarded, ok, tcp_pair_in_memory

LIMIT = 1024 * 1024  # the cluster's default per_connection_buffer_limit_bytes
SENT = 8 * LIMIT
dispatcher, down, client, upstream = tcp_pair_in_memory()
client.peer_send(b"x" * SENT)
for _ in range(4):
    guarded(dispatcher.run_posted)
held = len(upstream.conn.write_buffer) + len(down.read_buffer)
unread = len(client.inbound)
check(
    held <= 2 * LIMIT,
    f"the upstream read nothing; the proxy holds {held:,} bytes for it (buffer limit {LIMIT:,}) and left "
    f"{unread:,} of the client's {SENT:,} unread: the client was never paused",
)
ok(f"the proxy holds {held:,} bytes for a silent upstream and left {unread:,} with the client")
