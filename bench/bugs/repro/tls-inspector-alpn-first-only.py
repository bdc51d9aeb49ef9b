"""tls_inspector reads every protocol of the ClientHello's ALPN list (RFC 7301 3.1): a client offering
h2 then http/1.1 is routed to the chain whose application_protocols lists http/1.1."""

import ssl

from _live import Proxy, Upstream, check, connect, echo, ok, routed_by_chain, wait_for

with Upstream(echo) as h11_up, Upstream(echo) as other_up:
    config = routed_by_chain(
        {"name": "alpn", "listener_filters": [{"tls_inspector": {}}]},
        [("h11", {"application_protocols": ["http/1.1"]}), ("other", {})],
        {"h11": h11_up.port, "other": other_up.port},
    )
    with Proxy(config) as proxy:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with connect(proxy.port("alpn"), timeout=2) as raw:
            try:  # the echo upstream answers the ClientHello with itself: the handshake fails, the route is made
                ctx.wrap_socket(raw, server_hostname="example.com").close()
            except (ssl.SSLError, OSError):
                pass
        wait_for(lambda: h11_up.connections or other_up.connections, timeout=3)
        reached = {"h11": len(h11_up.connections), "other": len(other_up.connections)}
check(
    reached == {"h11": 1, "other": 0},
    f"a ClientHello offering ALPN h2, http/1.1 went to {reached}, not to the chain listing http/1.1",
)
ok("the client's second ALPN protocol chose the http/1.1 chain")
