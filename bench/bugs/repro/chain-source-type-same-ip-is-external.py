"""FilterChainMatch.source_type SAME_IP_OR_LOOPBACK: a connection whose source address is the
listener's own destination address (a local client on a host address, a sidecar's own traffic)
is "same IP or loopback", not EXTERNAL (Envoy's ConnectionSourceType). In memory through the
proxy's build API: a chain for local sources, a default chain for the rest, three clients."""

import json

from _live import accept_in_memory, check, guarded, in_memory, ok


def tcp(cluster):
    return {"filters": [{"tcp_proxy": {"cluster": cluster}}]}


CONFIG = json.dumps(
    {
        "listeners": [
            {
                "name": "tcp",
                "address": {"host": "10.0.0.1", "port": 10000},
                "filter_chains": [{"filter_chain_match": {"source_type": "SAME_IP_OR_LOOPBACK"}, **tcp("local")}],
                "default_filter_chain": tcp("external"),
            }
        ],
        "clusters": [
            {"name": "local", "endpoints": [{"host": "127.0.0.1", "port": 9001}]},
            {"name": "external", "endpoints": [{"host": "127.0.0.1", "port": 9002}]},
        ],
    }
)
EXPECTED = {"10.0.0.1": "local", "127.0.0.1": "local", "10.0.0.2": "external"}

built, ctx, dispatcher, network = in_memory(CONFIG)
for i, source in enumerate(EXPECTED):
    guarded(lambda s=source, i=i: accept_in_memory(built, ctx, "tcp", (s, 40000 + i), ("10.0.0.1", 10000)))
    guarded(dispatcher.run_posted)
ports = [conn.remote_address[1] for conn in network.opened]
check(len(ports) == len(EXPECTED), f"{len(EXPECTED)} connections opened {len(ports)} upstream connections")
got = {source: "local" if port == 9001 else "external" for source, port in zip(EXPECTED, ports)}
for source, want in EXPECTED.items():
    check(
        got[source] == want,
        f"a connection from {source} to the listener on 10.0.0.1 took the {got[source]} chain "
        f"(source_type SAME_IP_OR_LOOPBACK: {want} expected)",
    )
ok("the same-IP and loopback sources took the SAME_IP_OR_LOOPBACK chain, the other source the default")
