"""Route retries on connect failure cover a connect timeout (Envoy's `connect-failure` retry
condition: "a connection failure to the upstream server (connect timeout, etc.)"): with num_retries 1,
a request whose first upstream connection never completes is retried on a new connection and served.
In memory, with virtual time: the first connect is left hanging past connect_timeout_ms."""

from _live import accept_in_memory, check, guarded, http_config, in_memory, ok

CONFIG = http_config(
    9000,
    route={"retry_policy": {"num_retries": 1}, "timeout_ms": 10000},
    cluster={"connect_timeout_ms": 100},
)
built, ctx, dispatcher, network = in_memory(CONFIG)
network.auto_connect = False
conn, client = accept_in_memory(built, ctx, "web", ("127.0.0.1", 40000))
client.peer_send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
guarded(dispatcher.run_posted)
check(len(network.opened) == 1, f"the request opened {len(network.opened)} upstream connections")
guarded(lambda: dispatcher.advance(150))  # the first connect times out
guarded(dispatcher.run_posted)
attempts = len(network.opened)
if attempts >= 2:
    retry = network.opened[-1]
    guarded(lambda: network.complete_connect(retry))
    guarded(dispatcher.run_posted)
    retry.io.peer_read()
    retry.io.peer_send(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nserved")
    guarded(dispatcher.run_posted)
answer = bytes(client.peer_read())
status_line = answer.split(b"\r\n", 1)[0]
check(
    answer.startswith(b"HTTP/1.1 200"),
    f"with num_retries 1, a request whose first connect timed out got {status_line!r} "
    f"after {attempts} connect attempt(s) instead of a retry",
)
ok("the connect timeout was retried on a new connection (200)")
