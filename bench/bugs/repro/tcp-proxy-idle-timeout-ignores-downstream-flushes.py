"""tcp_proxy idle_timeout_ms: a connection is idle only while no bytes are received or sent on either
side (Envoy's tcp_proxy idle_timeout). A download the client takes slowly, with bytes going out to it
every half second, outlives a 1 s idle timeout and arrives whole (in memory, virtual time)."""

import json

from _live import accept_in_memory, check, guarded, in_memory, ok

PAYLOAD = bytes(range(256)) * 3600  # 900 KiB: under the 1 MiB buffer limit, so the upstream is read at once
CONFIG = json.dumps(
    {
        "listeners": [
            {
                "name": "tcp",
                "address": {"host": "127.0.0.1", "port": 9000},
                "filter_chains": [{"filters": [{"tcp_proxy": {"cluster": "app", "idle_timeout_ms": 1000}}]}],
            }
        ],
        "clusters": [{"name": "app", "endpoints": [{"host": "127.0.0.1", "port": 9001}]}],
    }
)

built, ctx, dispatcher, network = in_memory(CONFIG)
down, client = accept_in_memory(built, ctx, "tcp", ("127.0.0.1", 40000))
guarded(dispatcher.run_posted)
check(len(network.opened) == 1, f"tcp_proxy opened {len(network.opened)} upstream connections")
upstream = network.opened[0].io
guarded(lambda: upstream.peer_send(PAYLOAD))  # the upstream sends it all, then waits
guarded(dispatcher.run_posted)
received = bytearray()
for _ in range(40):  # the client takes 64 KiB every 500 ms
    received += client.peer_read(64 * 1024)
    if len(received) == len(PAYLOAD) or client.is_closed:
        break
    guarded(lambda: dispatcher.advance(500))
check(
    bytes(received) == PAYLOAD,
    f"the client got {len(received)} of {len(PAYLOAD)} bytes before the connection was closed at "
    f"{dispatcher.now_ms()} ms (failure: {down.stream_info.get('failure')}), while bytes went out to it every 500 ms",
)
guarded(lambda: dispatcher.advance(2000))  # flushes are noticed when the timer fires: at most twice the timeout
check(down.stream_info.get("failure") == "idle_timeout", "the connection did not time out once it was idle")
ok("the slow download arrived whole, and the idle timeout closed the connection once nothing moved")
