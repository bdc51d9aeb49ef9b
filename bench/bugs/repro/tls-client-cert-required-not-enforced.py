"""DownstreamTlsContext.require_client_certificate: a client without a certificate is refused at the
handshake and nothing reaches the upstream; one with a certificate the CA signed is served."""

import json

from _live import Proxy, Upstream, check, echo, ok, tls_ping

from fuzz.test_pki import ensure  # noqa: E402  (_live put this tree on sys.path)

PKI = ensure()
TLS = {
    "require_client_certificate": True,
    "common_tls_context": {
        "tls_certificates": [
            {
                "certificate_chain": {"filename": str(PKI / "server.pem")},
                "private_key": {"filename": str(PKI / "server.key")},
            }
        ],
        "validation_context": {"trusted_ca": {"filename": str(PKI / "ca.pem")}},
    },
}


def config(upstream):
    chain = {"tls_context": TLS, "filters": [{"tcp_proxy": {"cluster": "echo"}}]}
    listener = {"name": "mtls", "address": {"host": "127.0.0.1", "port": 0}, "filter_chains": [chain]}
    return json.dumps(
        {
            "listeners": [listener],
            "clusters": [{"name": "echo", "endpoints": [{"host": "127.0.0.1", "port": upstream}]}],
        }
    )


with Upstream(echo) as up, Proxy(config(up.port)) as proxy:
    with_cert = tls_ping(proxy.port("mtls"), certificate=True)
    without = tls_ping(proxy.port("mtls"), certificate=False)
check(with_cert == b"ping", f"a client with a certificate was not served ({with_cert!r})")
check(without == b"", f"a client without a certificate was served ({without!r}) though one is required")
ok("the client without a certificate was refused; the one with a certificate was served")
