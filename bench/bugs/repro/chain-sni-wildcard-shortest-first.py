"""Filter chain match on SNI: the most specific wildcard wins (Envoy's FilterChainMatch.server_names:
an exact name, then the longest matching wildcard, `*.example.com` before `*.com`), so a ClientHello
for api.example.com selects the chain for *.example.com even when a chain for *.com exists."""

from _live import Proxy, Upstream, check, client_hello, connect, echo, ok, routed_by_chain, wait_for

LISTENER = {"name": "tls", "listener_filters": [{"tls_inspector": {}}]}
CHAINS = [("example", {"server_names": ["*.example.com"]}), ("com", {"server_names": ["*.com"]}), ("web", {})]

with (
    Upstream(echo) as example,
    Upstream(echo) as com,
    Upstream(echo) as web,
    Proxy(routed_by_chain(LISTENER, CHAINS, {"example": example.port, "com": com.port, "web": web.port})) as proxy,
):
    ups = {"example": example, "com": com, "web": web}
    for name, want in (("shop.com", "com"), ("api.example.com", "example"), ("a.b.example.com", "example")):
        with connect(proxy.port("tls")) as sock:
            sock.sendall(client_hello(name))
            wait_for(lambda: any(any(u.connections) for u in ups.values()))
        chosen = next((c for c, u in ups.items() if any(u.connections)), "none")
        check(chosen == want, f"a ClientHello for {name!r} went to the {chosen!r} chain, not the {want!r} one")
        for u in ups.values():
            u.connections.clear()
ok("each server name selected the chain of its most specific wildcard")
