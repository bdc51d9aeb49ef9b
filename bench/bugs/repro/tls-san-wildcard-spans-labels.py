"""Upstream TLS with `match_subject_alt_names`: a certificate's wildcard DNS SAN stands for exactly one
leftmost label (RFC 6125 6.4.3, Envoy's dnsNameMatch). The test upstream's certificate carries
`*.example.com`: the proxy accepts it for `api.example.com` but refuses it (503, nothing sent) for
`deep.api.example.com`."""

import ssl

import h11
from _live import Proxy, Upstream, check, http1_request, http_config, ok

from fuzz.test_pki import ensure

PKI = ensure()


def tls_origin(sock, log) -> None:
    """An HTTPS origin with the test PKI's server certificate (SANs localhost, example.com, *.example.com, ...)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(PKI / "server.pem", PKI / "server.key")
    try:
        tls = ctx.wrap_socket(sock, server_side=True)
    except (ssl.SSLError, OSError):
        return  # the proxy refused our certificate: the handshake ends here
    conn = h11.Connection(h11.SERVER)
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = tls.recv(65536)
            if not data:
                return
            conn.receive_data(data)
        elif isinstance(event, h11.Request):
            log.append(("request", event.target.decode()))
        elif isinstance(event, h11.EndOfMessage):
            tls.sendall(
                conn.send(h11.Response(status_code=200, headers=[("content-length", "2")]))
                + conn.send(h11.Data(data=b"hi"))
                + conn.send(h11.EndOfMessage())
            )
            return
        else:
            return


def status_for(name: str, upstream: Upstream) -> int | None:
    tls_context = {
        "common_tls_context": {
            "validation_context": {"trusted_ca": {"filename": str(PKI / "ca.pem")}, "match_subject_alt_names": [name]}
        }
    }
    with Proxy(http_config(upstream.port, cluster={"tls_context": tls_context})) as proxy:
        return http1_request(proxy.port("web"), "GET", "/" + name)[0]


with Upstream(tls_origin) as up:
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
