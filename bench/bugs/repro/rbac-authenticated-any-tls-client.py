"""RBAC principal `authenticated` without a principal_name (Envoy's config.rbac.v3.Principal.Authenticated):
it matches a downstream whose TLS handshake verified a client certificate, not any TLS client. A TLS
listener that asks for a client certificate without requiring one, network RBAC ALLOW for
`authenticated: {}`: a client with the test PKI's certificate is echoed, one without is refused."""

import json

from _live import Proxy, Upstream, check, echo, mtls_config, ok, tls_ping

rbac = {"rbac": {"action": "ALLOW", "policies": [{"name": "mtls", "principals": [{"authenticated": {}}]}]}}
config = json.loads(mtls_config(0, [rbac], require=False))
with Upstream(echo) as up:
    config["clusters"][0]["endpoints"][0]["port"] = up.port
    with Proxy(json.dumps(config)) as proxy:
        with_cert = tls_ping(proxy.port("mtls"), certificate=True)
        without = tls_ping(proxy.port("mtls"), certificate=False)
check(with_cert == b"ping", f"a client with a verified certificate got {with_cert!r} back, not b'ping'")
check(
    without == b"",
    f"RBAC allows only `authenticated` principals, yet a TLS client without a certificate got {without!r} back",
)
ok("the client with a verified certificate was allowed, the one without was refused")
