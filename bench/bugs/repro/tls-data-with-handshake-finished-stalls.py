"""TLS: a client's first application bytes that arrive in the same read as its handshake's last
flight (TLS 1.3: the client Finished, then "ping" at once, as a client sends a request right after
its handshake) reach the upstream and come back echoed, without the client sending anything more."""

import json
import ssl

from _live import Proxy, Upstream, check, connect, echo, ok

from fuzz.test_pki import ensure  # noqa: E402  (_live put this tree on sys.path)

PKI = ensure()
TLS = {
    "common_tls_context": {
        "tls_certificates": [
            {
                "certificate_chain": {"filename": str(PKI / "server.pem")},
                "private_key": {"filename": str(PKI / "server.key")},
            }
        ]
    }
}


def config(upstream):
    chain = {"tls_context": TLS, "filters": [{"tcp_proxy": {"cluster": "echo"}}]}
    listener = {"name": "tls", "address": {"host": "127.0.0.1", "port": 0}, "filter_chains": [chain]}
    return json.dumps(
        {
            "listeners": [listener],
            "clusters": [{"name": "echo", "endpoints": [{"host": "127.0.0.1", "port": upstream}]}],
        }
    )


def ping_with_finished(port: int) -> bytes:
    """Handshake over memory BIOs; the client's last flight and its "ping" record go in one write."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(PKI / "ca.pem")
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with connect(port, timeout=2.0) as sock:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if outgoing.pending:
                    sock.sendall(outgoing.read())
                data = sock.recv(65536)
                if not data:
                    return b""
                incoming.write(data)
        tls.write(b"ping")
        sock.sendall(outgoing.read())  # Finished and the "ping" record together
        got = b""
        try:
            while len(got) < 4:
                data = sock.recv(65536)
                if not data:
                    break
                incoming.write(data)
                try:
                    while True:
                        got += tls.read(65536)
                except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                    pass
        except TimeoutError:
            pass
        return got


with Upstream(echo) as up, Proxy(config(up.port)) as proxy:
    got = ping_with_finished(proxy.port("tls"))
check(got == b"ping", f"'ping' sent with the client's Finished came back as {got!r} within 2 s")
ok("the bytes sent with the client's Finished were forwarded and echoed")
