"""Upstream TLS with a validation_context: the upstream's certificate must chain to trusted_ca (Envoy's
UpstreamTlsContext). Here trusted_ca is a CA that did not sign the upstream's certificate, so the
handshake fails, the client gets a 503 and the request never reaches the upstream."""

from _live import check, ok, through_tls_cluster

from fuzz.test_pki import ensure

tls_context = {
    "common_tls_context": {"validation_context": {"trusted_ca": {"filename": str(ensure() / "other-ca.pem")}}}
}
status, body, served = through_tls_cluster(tls_context)
check(
    status == 503 and not served,
    f"trusted_ca is a CA that did not sign the upstream's certificate: the client got {status} {body[:20]!r} "
    f"and the upstream served {served}",
)
ok("an upstream certificate from an untrusted CA was refused (503), nothing was sent to it")
