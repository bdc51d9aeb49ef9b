"""Upstream TLS with `match_subject_alt_names`: an upstream whose certificate chains to trusted_ca but
carries none of the names listed is refused (503), and the request never reaches it."""

from _live import Proxy, Upstream, check, http1_request, http_config, ok, tls_origin

from fuzz.test_pki import ensure

PKI = ensure()


tls_context = {
    "common_tls_context": {
        "validation_context": {
            "trusted_ca": {"filename": str(PKI / "ca.pem")},
            "match_subject_alt_names": ["backend.internal"],
        }
    }
}
with Upstream(tls_origin()) as up:
    config = http_config(up.port, cluster={"tls_context": tls_context})
    with Proxy(config) as proxy:
        status, _, body = http1_request(proxy.port("web"), "GET", "/data")
served = [entry for log in up.connections for entry in log if isinstance(entry, tuple)]
check(
    status == 503 and not served,
    f"match_subject_alt_names [backend.internal], the upstream's certificate names localhost: the client got "
    f"{status} {body[:20]!r} and the upstream served {served}",
)
ok("an upstream certificate without the SAN listed was refused (503), nothing was sent to it")
