"""Network RBAC principal with ignore_case: the configured name matches the client certificate's URI SAN
(spiffe://proxyfuzz.test/client) whatever the case of either (Envoy StringMatcher.ignore_case)."""

import json
import ssl

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until

from fuzz.test_pki import ensure  # noqa: E402  (_live put this tree on sys.path)

PKI = ensure()
CONFIG = {
    "listeners": [
        {
            "name": "mtls",
            "address": {"host": "127.0.0.1", "port": 0},
            "filter_chains": [
                {
                    "tls_context": {
                        "common_tls_context": {
                            "tls_certificates": [
                                {
                                    "certificate_chain": {"filename": str(PKI / "server.pem")},
                                    "private_key": {"filename": str(PKI / "server.key")},
                                }
                            ],
                            "validation_context": {"trusted_ca": {"filename": str(PKI / "ca.pem")}},
                        }
                    },
                    "filters": [
                        {
                            "rbac": {
                                "action": "ALLOW",
                                "policies": [
                                    {
                                        "name": "spiffe",
                                        "principals": [
                                            {
                                                "authenticated": {
                                                    "principal_name": {
                                                        "prefix": "SPIFFE://ProxyFuzz.TEST/",
                                                        "ignore_case": True,
                                                    }
                                                }
                                            }
                                        ],
                                    }
                                ],
                            }
                        },
                        {"tcp_proxy": {"cluster": "echo"}},
                    ],
                }
            ],
        }
    ],
    "clusters": [{"name": "echo", "endpoints": [{"host": "127.0.0.1", "port": "{upstream}"}]}],
}


def exchange(port, certificate):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(PKI / "ca.pem")
    if certificate:
        ctx.load_cert_chain(PKI / "client.pem", PKI / "client.key")
    with connect(port) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"ping")
                return recv_until(tls, 4)
        except (ssl.SSLError, OSError):
            return b""


with Upstream(echo) as up, Proxy(json.dumps(CONFIG).replace('"{upstream}"', str(up.port))) as proxy:
    allowed = exchange(proxy.port("mtls"), certificate=True)
check(
    allowed == b"ping",
    "a client whose URI SAN is spiffe://proxyfuzz.test/client was refused by an ALLOW policy naming the "
    f"prefix SPIFFE://ProxyFuzz.TEST/ with ignore_case ({allowed!r})",
)
ok("the ignore_case principal matched the client certificate in another case")
