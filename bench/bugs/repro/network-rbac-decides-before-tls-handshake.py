"""Network RBAC on a TLS listener decides on the verified client certificate: a client presenting the
test PKI's certificate (URI SAN spiffe://proxyfuzz.test/client) is admitted by an ALLOW policy
naming exactly that principal, so its bytes reach the upstream and come back."""

from _live import Proxy, Upstream, check, echo, mtls_rbac_config, ok, tls_ping

with Upstream(echo) as up, Proxy(mtls_rbac_config(up.port, {"exact": "spiffe://proxyfuzz.test/client"})) as proxy:
    allowed = tls_ping(proxy.port("mtls"), certificate=True)
    refused = tls_ping(proxy.port("mtls"), certificate=False)
check(
    allowed == b"ping",
    f"a client whose certificate is the allowed principal was refused ({allowed!r}): "
    "the policy was judged before the handshake showed the certificate",
)
check(refused == b"", f"a client without a certificate got through an ALLOW policy on a principal ({refused!r})")
ok("the ALLOW policy on the client certificate's principal admitted it, and refused a client without one")
