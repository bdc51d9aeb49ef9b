"""tls_params.tls_maximum_protocol_version caps the version a listener negotiates: with TLSv1_2 as
maximum, a client that offers TLS 1.3 gets TLS 1.2."""

import ssl

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until, tcp_config
from fuzz.test_pki import ensure

pki = ensure()
TLS = {
    "common_tls_context": {
        "tls_params": {"tls_maximum_protocol_version": "TLSv1_2"},
        "tls_certificates": [
            {
                "certificate_chain": {"filename": str(pki / "server.pem")},
                "private_key": {"filename": str(pki / "server.key")},
            }
        ],
    }
}
with (
    Upstream(echo) as up,
    Proxy(
        tcp_config(
            up.port, listener={"filter_chains": [{"tls_context": TLS, "filters": [{"tcp_proxy": {"cluster": "app"}}]}]}
        )
    ) as proxy,
):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(pki / "ca.pem")
    with connect(proxy.port("tcp")) as raw, context.wrap_socket(raw, server_hostname="localhost") as tls:
        version = tls.version()
        tls.sendall(b"ping")
        echoed = recv_until(tls, 4)
check(echoed == b"ping", f"the TLS connection echoed {echoed!r}")
check(version == "TLSv1.2", f"a listener with tls_maximum_protocol_version TLSv1_2 negotiated {version}")
ok("the listener capped the version at TLS 1.2")
