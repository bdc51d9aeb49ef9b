"""tls_inspector and SNI routing: a TLS client asking for a.b~c.test (visible ASCII, RFC 6066 3) is
routed by the `*.test` wildcard to the chain that terminates its TLS, and its bytes are echoed."""

import json
import ssl

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until

from fuzz.test_pki import ensure  # noqa: E402  (_live put this tree on sys.path)

PKI = ensure()
CONFIG = {
    "listeners": [
        {
            "name": "sni",
            "address": {"host": "127.0.0.1", "port": 0},
            "listener_filters": [{"tls_inspector": {}}],
            "filter_chains": [
                {
                    "filter_chain_match": {"server_names": ["*.test"]},
                    "tls_context": {
                        "common_tls_context": {
                            "tls_certificates": [
                                {
                                    "certificate_chain": {"filename": str(PKI / "server.pem")},
                                    "private_key": {"filename": str(PKI / "server.key")},
                                }
                            ]
                        }
                    },
                    "filters": [{"tcp_proxy": {"cluster": "echo"}}],
                }
            ],
        }
    ],
    "clusters": [{"name": "echo", "endpoints": [{"host": "127.0.0.1", "port": "{upstream}"}]}],
}

with Upstream(echo) as up, Proxy(json.dumps(CONFIG).replace('"{upstream}"', str(up.port))) as proxy:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(PKI / "ca.pem")
    ctx.check_hostname = False  # the certificate names *.test, not a~b.test
    with connect(proxy.port("sni")) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="a~b.test") as tls:
                tls.sendall(b"ping")
                echoed = recv_until(tls, 4)
        except (ssl.SSLError, OSError) as exc:
            echoed = f"no TLS: {exc}".encode()
    check(echoed == b"ping", f"a client with SNI a~b.test was not served by the *.test chain ({echoed[:80]!r})")
ok("SNI a~b.test reached the *.test chain and was echoed")
