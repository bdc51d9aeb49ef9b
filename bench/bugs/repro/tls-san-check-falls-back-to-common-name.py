"""match_subject_alt_names is matched against SANs only (Envoy; RFC 6125 6.4.4: no CN fallback when a
certificate has SANs). An mTLS listener listing `client`, the subject CN of the test PKI's client
certificate but none of its SANs (spiffe://proxyfuzz.test/client, client.proxyfuzz.test), refuses
that certificate: the handshake fails and nothing reaches the echo upstream."""

import json

from _live import Proxy, Upstream, check, echo, ok, tls_ping

from fuzz.test_pki import ensure

PKI = ensure()


def config(upstream: int, names) -> str:
    tls = {
        "common_tls_context": {
            "tls_certificates": [
                {
                    "certificate_chain": {"filename": str(PKI / "server.pem")},
                    "private_key": {"filename": str(PKI / "server.key")},
                }
            ],
            "validation_context": {
                "trusted_ca": {"filename": str(PKI / "ca.pem")},
                "match_subject_alt_names": list(names),
            },
        },
        "require_client_certificate": True,
    }
    chain = {"tls_context": tls, "filters": [{"tcp_proxy": {"cluster": "echo"}}]}
    listener = {"name": "mtls", "address": {"host": "127.0.0.1", "port": 0}, "filter_chains": [chain]}
    cluster = {"name": "echo", "endpoints": [{"host": "127.0.0.1", "port": upstream}]}
    return json.dumps({"listeners": [listener], "clusters": [cluster]})


with Upstream(echo) as up, Proxy(config(up.port, ["client"])) as proxy:
    answer = tls_ping(proxy.port("mtls"), certificate=True)
forwarded = b"".join(chunk for log in up.connections for chunk in log)
check(
    answer == b"" and not forwarded,
    f"match_subject_alt_names [client] names only the certificate's subject CN, not a SAN: the client got "
    f"{answer!r} and the upstream was sent {forwarded!r}",
)
ok("a client certificate whose SANs do not include the listed name was refused, whatever its subject CN")
