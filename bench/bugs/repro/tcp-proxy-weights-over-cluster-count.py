"""tcp_proxy weighted_clusters: each connection goes to a cluster with probability weight / total
weight (Envoy's weighted_clusters). With primary 3 and canary 1, forty connections send about ten to
the canary. In memory through the proxy's build API with the instance's seeded random draws, so the
split is the same on every run."""

import json

from _live import accept_in_memory, check, guarded, in_memory, ok

CONNECTIONS = 40
tcp = {
    "tcp_proxy": {
        "weighted_clusters": {"clusters": [{"name": "primary", "weight": 3}, {"name": "canary", "weight": 1}]}
    }
}
CONFIG = json.dumps(
    {
        "listeners": [
            {"name": "tcp", "address": {"host": "127.0.0.1", "port": 0}, "filter_chains": [{"filters": [tcp]}]}
        ],
        "clusters": [
            {"name": "primary", "endpoints": [{"host": "127.0.0.1", "port": 9001}]},
            {"name": "canary", "endpoints": [{"host": "127.0.0.1", "port": 9002}]},
        ],
    }
)

built, ctx, dispatcher, network = in_memory(CONFIG)
for i in range(CONNECTIONS):
    guarded(lambda i=i: accept_in_memory(built, ctx, "tcp", ("127.0.0.1", 40000 + i)))
    guarded(dispatcher.run_posted)
ports = [conn.remote_address[1] for conn in network.opened]
canary = ports.count(9002)
check(len(ports) == CONNECTIONS, f"{CONNECTIONS} connections opened {len(ports)} upstream connections")
check(
    4 <= canary <= 18,
    f"weights primary 3, canary 1: {canary} of {CONNECTIONS} connections went to the canary (about "
    f"{CONNECTIONS // 4} expected)",
)
ok(f"{canary} of {CONNECTIONS} connections went to the canary of weight 1 in 4")
