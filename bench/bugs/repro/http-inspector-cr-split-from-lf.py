"""http_inspector reads the request line however TCP splits it: a client whose CR and LF at the end of
"GET / HTTP/1.1" arrive in two segments (a slow or byte-at-a-time writer) still speaks HTTP/1.1, and
is routed to the chain whose application_protocols lists http/1.1."""

import time

from _live import Proxy, Upstream, check, connect, echo, ok, routed_by_chain, wait_for

with Upstream(echo) as h11_up, Upstream(echo) as other_up:
    config = routed_by_chain(
        {"name": "sniff", "listener_filters": [{"http_inspector": {}}]},
        [("h11", {"application_protocols": ["http/1.1"]}), ("other", {})],
        {"h11": h11_up.port, "other": other_up.port},
    )
    with Proxy(config) as proxy:
        with connect(proxy.port("sniff"), timeout=2) as sock:
            sock.sendall(b"GET / HTTP/1.1\r")
            time.sleep(0.3)  # the proxy reads the line up to its CR first
            sock.sendall(b"\nHost: example.com\r\n\r\n")
            wait_for(lambda: h11_up.connections or other_up.connections, timeout=3)
        reached = {"h11": len(h11_up.connections), "other": len(other_up.connections)}
check(
    reached == {"h11": 1, "other": 0},
    f"an HTTP/1.1 request line whose CRLF arrived split went to {reached}, not to the http/1.1 chain",
)
ok("the request line split between CR and LF chose the http/1.1 chain")
