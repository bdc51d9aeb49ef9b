"""The connection manager's stream idle timeout defaults to 5 minutes when the configuration does not
set stream_idle_timeout_ms (bootstrap.proto; Envoy's stream_idle_timeout): a client that starts a
request and then sends nothing (a slowloris head, a stalled upload) gets 408 and the connection ends,
even with every timeout left at its default. In memory through the proxy's build API, with virtual
time."""

from _live import accept_in_memory, check, guarded, http_config, in_memory, ok

built, ctx, dispatcher, network = in_memory(http_config(9000))
stalls = {
    "a request head that never ends": b"GET / HTTP/1.1\r\nHost: repro\r\nX-Slow: 1\r\n",
    "a request body that stops": b"POST /up HTTP/1.1\r\nHost: repro\r\nContent-Length: 10\r\n\r\nabc",
}
clients = {}
for i, (what, data) in enumerate(stalls.items()):
    down, client = accept_in_memory(built, ctx, "web", ("127.0.0.1", 40000 + i))
    client.auto_read = True  # the client reads whatever the proxy writes
    client.peer_send(data)
    clients[what] = (down, client)
guarded(dispatcher.run_posted)
guarded(lambda: dispatcher.advance(299_000))
for what, (down, client) in clients.items():
    check(not client.received, f"{what} was answered before the 5 min stream idle timeout")
guarded(lambda: dispatcher.advance(2_000))
for what, (down, client) in clients.items():
    answer = bytes(client.received)
    check(
        answer.startswith(b"HTTP/1.1 408") and down.state.name == "CLOSED",
        f"{what} got {answer[:40]!r} after 301 s of silence (stream_idle_timeout_ms unset: 5 min by default)",
    )
ok("both stalled requests got 408 after the default 5 min stream idle timeout")
