"""A listener's default_filter_chain serves every connection no filter chain matches, whether or not
the listener has listener filters (Envoy's default_filter_chain). Here the listener has no listener
filter; its one chain matches destination port 1 only, so a client's connection goes to the default
chain, which proxies to an echo upstream."""

import json

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until

with Upstream(echo) as up:
    config = {
        "listeners": [
            {
                "name": "tcp",
                "address": {"host": "127.0.0.1", "port": 0},
                "filter_chains": [
                    {
                        "filter_chain_match": {"destination_port": 1},
                        "filters": [{"tcp_proxy": {"cluster": "app"}}],
                    }
                ],
                "default_filter_chain": {"filters": [{"tcp_proxy": {"cluster": "app"}}]},
            }
        ],
        "clusters": [{"name": "app", "endpoints": [{"host": "127.0.0.1", "port": up.port}]}],
    }
    with Proxy(json.dumps(config)) as proxy:
        with connect(proxy.port("tcp")) as sock:
            sock.sendall(b"hello")
            answer = recv_until(sock, 5, timeout=2.0)
check(
    answer == b"hello",
    f"no filter chain matched, the default chain should serve; the client got {answer!r}",
)
ok("the default filter chain served a connection no chain matched")
