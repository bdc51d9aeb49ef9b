"""Downstream TLS statistics: a client that presents no certificate to a listener requiring one is
counted as `ssl.fail_verify_no_cert`, not as a generic `ssl.connection_error` (Envoy's listener
ssl stats: what an operator alerts on when a client lost its certificate). Live on 127.0.0.1: one
client without a certificate, then the admin's /stats."""

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
            "admin": {"address": {"host": "127.0.0.1", "port": 0}},
        }
    )


with Upstream(echo) as up, Proxy(config(up.port)) as proxy:
    answer = tls_ping(proxy.port("mtls"), certificate=False)  # returns once the proxy ended the handshake
    stats = proxy.stats()
check(answer == b"", f"a client without a certificate was served ({answer!r}) though one is required")
ssl_stats = {k.split(".ssl.", 1)[1]: v for k, v in stats.items() if k.startswith("listener.mtls.ssl.") and v}
check(
    ssl_stats.get("fail_verify_no_cert") == 1,
    f"one client presented no certificate; the listener's ssl counters read {ssl_stats} "
    "(fail_verify_no_cert 1 expected)",
)
ok(f"the refused client was counted as fail_verify_no_cert ({ssl_stats})")
