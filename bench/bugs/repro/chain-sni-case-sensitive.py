"""Filter chain match: the SNI is a DNS name, compared case-insensitively (RFC 6066 3, RFC 4343), so a
ClientHello for `API.Example.com` selects the chain that lists api.example.com."""

import ssl

from _live import Proxy, Upstream, check, connect, echo, ok, routed_by_chain, wait_for

LISTENER = {"name": "tls", "listener_filters": [{"tls_inspector": {}}]}
CHAINS = [("api", {"server_names": ["api.example.com"]}), ("web", {})]


def client_hello(name: str) -> bytes:
    """A real ClientHello (ssl with memory BIOs) naming `name`; the name is written as given."""
    context = ssl.create_default_context()
    tls = context.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname=name.lower())
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    return hello.replace(name.lower().encode(), name.encode())


with (
    Upstream(echo) as api,
    Upstream(echo) as web,
    Proxy(routed_by_chain(LISTENER, CHAINS, {"api": api.port, "web": web.port})) as proxy,
):
    for name in ("api.example.com", "API.Example.com"):
        with connect(proxy.port("tls")) as sock:
            sock.sendall(client_hello(name))
            wait_for(lambda: sum(map(len, api.connections + web.connections)) > 0)
        chosen = "api" if any(api.connections) else "web" if any(web.connections) else "none"
        check(
            chosen == "api",
            f"a ClientHello for {name!r} went to the {chosen!r} chain, not the one listing api.example.com",
        )
        api.connections.clear()
        web.connections.clear()
ok("both spellings of the server name selected the api.example.com chain")
