"""Upstream TLS with `match_subject_alt_names`: an upstream whose certificate chains to trusted_ca but
carries none of the names listed is refused (503), and the request never reaches it."""

from _live import check, ok, through_tls_cluster

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
status, body, served = through_tls_cluster(tls_context)
check(
    status == 503 and not served,
    f"match_subject_alt_names [backend.internal], the upstream's certificate names localhost: the client got "
    f"{status} {body[:20]!r} and the upstream served {served}",
)
ok("an upstream certificate without the SAN listed was refused (503), nothing was sent to it")
