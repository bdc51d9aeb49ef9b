"""PROXY protocol v1 (HAProxy's spec 2.1): the header line is at most 107 bytes with its CRLF, so a
receiver knows after 107 bytes without a CRLF that the header is malformed and refuses the
connection at once; it never buffers more of a line that cannot be one. In memory: 300 bytes of
"PROXY UNKNOWN ..." without a CRLF must close the connection before any more time passes."""

from _live import check, guarded, in_memory, accept_in_memory, ok, tcp_config

LISTENER = {"listener_filters": [{"proxy_protocol": {}}]}
built, ctx, dispatcher, network = in_memory(tcp_config(9000, listener=LISTENER))
down, client = guarded(lambda: accept_in_memory(built, ctx, "tcp", ("127.0.0.1", 40000)))
client.peer_send(b"PROXY UNKNOWN" + b" x" * 150)  # 313 bytes, no CRLF
guarded(dispatcher.run_posted)
check(
    client.is_closed,
    f"a PROXY v1 line of {len(client.sent)} bytes without its CRLF (at most 107 allowed) left the connection "
    f"open waiting for more ({len(network.opened)} upstream connections)",
)
ok(f"a {len(client.sent)}-byte PROXY v1 line without a CRLF was refused at once")
