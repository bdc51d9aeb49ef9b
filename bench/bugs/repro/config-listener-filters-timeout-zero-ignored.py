"""`listener_filters_timeout_ms: 0` turns the listener filters' timeout off (bootstrap.proto: "Default
15 s; 0: none", Envoy's listener_filters_timeout: "Specify 0 to disable the timeout"): a client that sends its
ClientHello after 20 s of silence is still served (in memory through the proxy's build API, with
virtual time)."""

import json

from _live import accept_in_memory, check, guarded, in_memory, ok, tcp_config

config = json.loads(tcp_config(9000, listener={"listener_filters": [{"tls_inspector": {}}]}))
config["listeners"][0]["listener_filters_timeout_ms"] = 0
built, ctx, dispatcher, network = in_memory(json.dumps(config))
down, client = accept_in_memory(built, ctx, "tcp", ("127.0.0.1", 40000))
guarded(dispatcher.run_posted)
guarded(lambda: dispatcher.advance(20_000))  # 20 s without a byte, beyond the 15 s default
check(not client.is_closed, "with listener_filters_timeout_ms: 0 the proxy closed a silent client after 20 s")
client.peer_send(b"not TLS, late")  # tls_inspector sees plaintext: the chain is chosen, tcp_proxy connects
guarded(dispatcher.run_posted)
check(len(network.opened) == 1, f"the late client's bytes opened {len(network.opened)} upstream connections")
upstream = network.opened[0].io
upstream.peer_read()
guarded(dispatcher.run_posted)
check(
    bytes(upstream.received) == b"not TLS, late",
    f"the upstream read {bytes(upstream.received)!r} of the late client's b'not TLS, late'",
)
ok("listener_filters_timeout_ms: 0 waited 20 s for the client's first bytes and then served it")
