"""Delayed close (Envoy's delayed_close_timeout, 1 s here): after a response that ends the connection
(`Connection: close`), the proxy waits for its output to flush and gives up only when the client takes
nothing for that long; every read restarts the wait. A client that keeps reading, slowly, still gets
the whole response (in memory through the proxy's build API, with virtual time, so the client's pace
is exact: 16 KiB every 200 ms)."""

from _live import accept_in_memory, check, guarded, http_config, in_memory, ok, request_bytes

SIZE = 400 * 1024  # under the connection's buffer limit: all of it is queued when the response ends
CHUNK, PAUSE_MS = 16 * 1024, 200

built, ctx, dispatcher, network = in_memory(http_config(9000))
down, client = accept_in_memory(built, ctx, "web", ("127.0.0.1", 40000))
guarded(dispatcher.run_posted)
client.peer_send(request_bytes("GET", "/big", [("Connection", "close")]))
guarded(dispatcher.run_posted)
check(len(network.opened) == 1, f"the request opened {len(network.opened)} upstream connections")
upstream = network.opened[0].io
upstream.peer_read()
upstream.peer_send(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % SIZE + b"x" * SIZE)
guarded(dispatcher.run_posted)
got = bytearray()
for _ in range(SIZE // CHUNK * 3):
    got += guarded(lambda: client.peer_read(CHUNK))
    guarded(lambda: dispatcher.advance(PAUSE_MS))
    if client.is_closed:
        break
head, _, body = bytes(got).partition(b"\r\n\r\n")
check(
    len(body) == SIZE,
    f"a client reading {CHUNK} bytes every {PAUSE_MS} ms got {len(body)} of the {SIZE} body bytes of a "
    f"Connection: close response before the proxy closed the connection",
)
ok(f"the slow client got the whole {SIZE}-byte response before the close")
