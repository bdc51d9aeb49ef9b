"""Upstream TLS with a validation_context: the upstream's certificate must chain to trusted_ca (Envoy's
UpstreamTlsContext). Here trusted_ca is a CA that did not sign the upstream's certificate, so the
handshake fails, the client gets a 503 and the request never reaches the upstream."""

import ssl

import h11
from _live import Proxy, Upstream, check, http1_request, http_config, ok

from fuzz.test_pki import ensure

PKI = ensure()


def tls_origin(sock, log) -> None:
    """An HTTPS origin with the test PKI's server certificate (signed by ca.pem)."""
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
                conn.send(h11.Response(status_code=200, headers=[("content-length", "6")]))
                + conn.send(h11.Data(data=b"secret"))
                + conn.send(h11.EndOfMessage())
            )
            return
        else:
            return


tls_context = {"common_tls_context": {"validation_context": {"trusted_ca": {"filename": str(PKI / "other-ca.pem")}}}}
with Upstream(tls_origin) as up:
    config = http_config(up.port, cluster={"tls_context": tls_context})
    with Proxy(config) as proxy:
        status, _, body = http1_request(proxy.port("web"), "GET", "/data")
served = [entry for log in up.connections for entry in log if isinstance(entry, tuple)]
check(
    status == 503 and not served,
    f"trusted_ca is a CA that did not sign the upstream's certificate: the client got {status} {body[:20]!r} "
    f"and the upstream served {served}",
)
ok("an upstream certificate from an untrusted CA was refused (503), nothing was sent to it")
