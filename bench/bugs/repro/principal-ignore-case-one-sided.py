"""Network RBAC principal with ignore_case: the configured name matches the client certificate's URI SAN
(spiffe://proxyfuzz.test/client) whatever the case of either (Envoy StringMatcher.ignore_case)."""

from _live import Proxy, Upstream, check, echo, mtls_rbac_config, ok, tls_ping

NAME = {"prefix": "SPIFFE://ProxyFuzz.TEST/", "ignore_case": True}

with Upstream(echo) as up, Proxy(mtls_rbac_config(up.port, NAME)) as proxy:
    allowed = tls_ping(proxy.port("mtls"), certificate=True)
check(
    allowed == b"ping",
    "a client whose URI SAN is spiffe://proxyfuzz.test/client was refused by an ALLOW policy naming the "
    f"prefix SPIFFE://ProxyFuzz.TEST/ with ignore_case ({allowed!r})",
)
ok("the ignore_case principal matched the client certificate in another case")
