"""Filter chain match on server_names (Envoy's FilterChainMatch): a connection whose SNI no chain lists,
exactly or by wildcard, goes on to the chains that list no server names, as one without SNI does.
Chains `api.example.com` and a catch-all: a ClientHello for other.example.org must reach the
catch-all (here a tcp_proxy to an upstream that reads it), not be closed for want of a chain."""

from _live import Proxy, Upstream, check, client_hello, connect, echo, ok, routed_by_chain, wait_for

LISTENER = {"name": "tls", "listener_filters": [{"tls_inspector": {}}]}
CHAINS = [("api", {"server_names": ["api.example.com"]}), ("web", {})]

with (
    Upstream(echo) as api,
    Upstream(echo) as web,
    Proxy(routed_by_chain(LISTENER, CHAINS, {"api": api.port, "web": web.port})) as proxy,
):
    for name, expected in (("api.example.com", "api"), ("other.example.org", "web")):
        with connect(proxy.port("tls")) as sock:
            sock.sendall(client_hello(name))
            wait_for(lambda: sum(map(len, api.connections + web.connections)) > 0)
        chosen = "api" if any(api.connections) else "web" if any(web.connections) else "none"
        check(
            chosen == expected,
            f"a ClientHello for {name!r} went to the {chosen!r} chain, not {expected!r} "
            "(chains: api.example.com, and one listing no server names)",
        )
        api.connections.clear()
        web.connections.clear()
ok("the listed name chose its chain, an unlisted one the chain without server names")
