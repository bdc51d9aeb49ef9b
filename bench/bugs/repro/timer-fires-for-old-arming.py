"""Timers: a re-armed timer fires at its new deadline only. The HCM idle timeout, armed when the
connection opens and re-armed when its request ends, must not close the connection at the first
deadline (in memory through the build API, on virtual time, where a timer's earlier expiries are
still queued when it is re-armed)."""

from _live import accept_in_memory, check, guarded, http_config, in_memory, ok

IDLE_MS = 1000
CONFIG = http_config(9000, hcm={"idle_timeout_ms": IDLE_MS})

built, ctx, dispatcher, network = in_memory(CONFIG)
down, client = accept_in_memory(built, ctx, "web", ("127.0.0.1", 40000))
guarded(lambda: dispatcher.advance(500))
client.peer_send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
guarded(dispatcher.run_posted)
upstream = network.opened[0].io
upstream.peer_read()
upstream.peer_send(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
guarded(dispatcher.run_posted)
answer = client.peer_read()
guarded(lambda: dispatcher.advance(600))  # t = 1100: 600 ms after the response, 1100 after opening
open_at_1100 = down.is_open
guarded(lambda: dispatcher.advance(500))  # t = 1600: past the idle deadline counted from the response
check(answer.startswith(b"HTTP/1.1 200"), f"the request got {answer[:40]!r}")
check(
    open_at_1100,
    f"the connection was closed at t=1100 ms, 600 ms after its response; idle_timeout_ms {IDLE_MS} "
    "counts from when it had no stream (the timer fired for its first arming, at t=1000)",
)
check(not down.is_open, f"the idle connection was still open {IDLE_MS + 100} ms after its response")
ok("the idle timeout closed the connection 1000 ms after its response, not at its first deadline")
