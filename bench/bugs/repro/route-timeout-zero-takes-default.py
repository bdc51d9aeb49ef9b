"""A route's `timeout_ms: 0` turns the route timeout off (bootstrap.proto RouteAction: "0 disables it.
Default 15 s"; Envoy's RouteAction.timeout: "specify 0 to disable"): a long poll whose upstream answers
after 60 s still gets that answer, where a route without the field gets a 504 after 15 s (in memory
through the proxy's build API, with virtual time)."""

from _live import accept_in_memory, check, guarded, http_config, in_memory, ok

REQUEST = b"GET /poll HTTP/1.1\r\nHost: repro\r\n\r\n"
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nlate!"


def long_poll(route: dict) -> bytes:
    """What the client read after its upstream answered at 60 s (virtual)."""
    built, ctx, dispatcher, network = in_memory(http_config(9000, route=route))
    down, client = accept_in_memory(built, ctx, "web", ("127.0.0.1", 40000))
    guarded(dispatcher.run_posted)
    client.peer_send(REQUEST)
    guarded(dispatcher.run_posted)
    check(len(network.opened) == 1, f"the request opened {len(network.opened)} upstream connections")
    upstream = network.opened[0].io
    upstream.peer_read()
    guarded(lambda: dispatcher.advance(60_000))
    upstream.peer_send(ANSWER)
    guarded(dispatcher.run_posted)
    return bytes(client.peer_read())


default = long_poll({})
check(default.startswith(b"HTTP/1.1 504"), f"without timeout_ms the long poll got {default[:40]!r}, not the 15 s 504")
disabled = long_poll({"timeout_ms": 0})
check(
    disabled.startswith(b"HTTP/1.1 200") and disabled.endswith(b"late!"),
    f"with timeout_ms: 0 (no timeout) the long poll answered at 60 s got {disabled[:40]!r}",
)
ok("timeout_ms: 0 let a 60 s long poll through; the default cut it with a 504")
