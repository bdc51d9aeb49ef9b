"""Network RBAC principal with a `suffix` StringMatcher: the client certificate's URI SAN
spiffe://proxyfuzz.test/client ends in /client, so an ALLOW policy naming that suffix admits it."""

from _live import Proxy, Upstream, check, echo, mtls_rbac_config, ok, tls_ping

with Upstream(echo) as up, Proxy(mtls_rbac_config(up.port, {"suffix": "/client"})) as proxy:
    allowed = tls_ping(proxy.port("mtls"), certificate=True)
check(
    allowed == b"ping",
    f"a client whose URI SAN ends in /client was refused by an ALLOW policy naming the suffix /client ({allowed!r})",
)
ok("the suffix principal matched the client certificate")
