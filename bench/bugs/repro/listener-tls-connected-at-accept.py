"""Network RBAC on an authenticated principal over TLS: a client presenting the test CA's
certificate (URI SAN spiffe://proxyfuzz.test/client) is allowed, and its bytes are echoed; one
presenting none is refused. The decision needs the handshake done: Connected comes after it."""

from _live import Proxy, Upstream, check, echo, mtls_rbac_config, ok, tls_ping

with Upstream(echo) as up, Proxy(mtls_rbac_config(up.port, {"prefix": "spiffe://proxyfuzz.test/"})) as proxy:
    allowed = tls_ping(proxy.port("mtls"), certificate=True)
    denied = tls_ping(proxy.port("mtls"), certificate=False)
check(
    allowed == b"ping",
    f"a client with a valid certificate for spiffe://proxyfuzz.test/client was refused ({allowed!r})",
)
check(denied == b"", f"a client without a certificate got through ({denied!r})")
ok("the authenticated client was echoed, the anonymous one refused")
