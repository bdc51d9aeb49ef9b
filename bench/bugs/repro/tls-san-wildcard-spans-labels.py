"""Upstream TLS with `match_subject_alt_names`: a certificate's wildcard DNS SAN stands for exactly one
leftmost label (RFC 6125 6.4.3, Envoy's dnsNameMatch). The test upstream's certificate carries
`*.example.com`: the proxy accepts it for `api.example.com` but refuses it (503, nothing sent) for
`deep.api.example.com`."""

from _live import Proxy, Upstream, check, http1_request, http_config, ok, tls_origin

from fuzz.test_pki import ensure

PKI = ensure()


def status_for(name: str, upstream: Upstream) -> int | None:
    tls_context = {
        "common_tls_context": {
            "validation_context": {"trusted_ca": {"filename": str(PKI / "ca.pem")}, "match_subject_alt_names": [name]}
        }
    }
    with Proxy(http_config(upstream.port, cluster={"tls_context": tls_context})) as proxy:
        return http1_request(proxy.port("web"), "GET", "/" + name)[0]


with Upstream(tls_origin(b"hi")) as up:
    one_label = status_for("api.example.com", up)
    two_labels = status_for("deep.api.example.com", up)
served = [entry[1] for log in up.connections for entry in log if isinstance(entry, tuple)]
check(one_label == 200, f"match_subject_alt_names [api.example.com] against *.example.com got {one_label}")
check(
    two_labels == 503 and "/deep.api.example.com" not in served,
    f"match_subject_alt_names [deep.api.example.com], the upstream's certificate names *.example.com: the client "
    f"got {two_labels} and the upstream served {served}",
)
ok("*.example.com matched api.example.com and not deep.api.example.com")
