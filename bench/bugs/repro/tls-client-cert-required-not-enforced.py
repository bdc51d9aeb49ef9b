"""DownstreamTlsContext.require_client_certificate: a client without a certificate is refused at the
handshake and nothing reaches the upstream; one with a certificate the CA signed is served."""

from _live import Proxy, Upstream, check, echo, mtls_config, ok, tls_ping

with Upstream(echo) as up, Proxy(mtls_config(up.port)) as proxy:
    with_cert = tls_ping(proxy.port("mtls"), certificate=True)
    without = tls_ping(proxy.port("mtls"), certificate=False)
check(with_cert == b"ping", f"a client with a certificate was not served ({with_cert!r})")
check(without == b"", f"a client without a certificate was served ({without!r}) though one is required")
ok("the client without a certificate was refused; the one with a certificate was served")
