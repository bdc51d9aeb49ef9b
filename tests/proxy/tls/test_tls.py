"""TLS, sans-IO: downstream termination and upstream origination over the in-memory network,
with real TLS peers (fuzz/tls_peer.py) and the test PKI (made at test time, nothing committed)."""

import pytest

from proxy.build import BuildError, build
from proxy.config import ConfigError, load_bytes
from proxy.http.access_log import MemorySink, use_sink
from proxy.network.connection import CloseType, State
from proxy.network.filter import CONTINUE, ConnectionCallbacks, ReadFilter

from fuzz import test_pki
from fuzz.tls_peer import TlsSocket, client_context
from tests.fuzz.test_build_harness import L4, bootstrap, tcp_config

PKI = test_pki.ensure()


def tls_context(*, validation=False, require=False, alpn=(), sans=(), **params):
    common = {
        "tls_certificates": [
            {
                "certificate_chain": {"filename": str(PKI / "server.pem")},
                "private_key": {"filename": str(PKI / "server.key")},
            }
        ]
    }
    if validation:
        common["validation_context"] = {
            "trusted_ca": {"filename": str(PKI / "ca.pem")},
            "match_subject_alt_names": list(sans),
        }
    if alpn:
        common["alpn_protocols"] = list(alpn)
    if params:
        common["tls_params"] = params
    return {"common_tls_context": common, "require_client_certificate": require}


def tls_l4(*filters, listener=None, cluster=None, **ctx):
    """tcp_proxy behind a TLS chain. Upstreams connect at once: tcp_proxy keeps the downstream
    from reading, handshake included, until its upstream is connected (as Envoy's does)."""
    cfg = tcp_config(*filters, cluster=cluster, listener=listener)
    cfg["listeners"][0]["filter_chains"][0]["tls_context"] = tls_context(**ctx)
    return with_tls_upstreams(L4(cfg, auto_connect=True))


def with_tls_upstreams(p):
    p.net.socket_class = TlsSocket  # upstream peers answer TLS when the proxy speaks it
    return p


def accept(p):
    """A downstream connection on a TlsSocket (plain until start_tls)."""
    listener = p.built.listeners[0]
    sock = TlsSocket()
    conn = listener.create_connection(p.ctx, sock, ("127.0.0.1", listener.address[1]), ("10.0.0.1", 50000))
    p.run()
    return conn, sock


def tls_client(p, certificate="", alpn=(), server_name="www.example.com", context=None):
    conn, sock = accept(p)
    sock.start_tls(context or client_context(certificate, tuple(alpn)), server_side=False, server_name=server_name)
    sock.drive()
    p.run()
    return conn, sock


class Witness(ReadFilter, ConnectionCallbacks):
    """Logs on_new_connection, Connected and on_data, in order."""

    def __init__(self, log):
        self.log = log

    def on_new_connection(self):
        self.callbacks.connection.add_connection_callbacks(self)
        self.log.append("new")
        return CONTINUE

    def on_event(self, event):
        self.log.append(event.value)

    def on_data(self, data, end_stream):
        self.log.append(("data", data.bytes()))
        return CONTINUE


def test_connected_comes_after_the_handshake_and_filters_see_plaintext_only():
    p = tls_l4()
    log = []
    listener = p.built.listeners[0]
    chain = listener.filter_chains[0]

    def witness_install(conn, ctx):
        conn.add_read_filter(Witness(log))

    object.__setattr__(chain, "installs", (witness_install, *chain.installs))
    conn, peer = accept(p)
    assert log == ["new"] and not conn.connected  # on_new_connection first, no Connected yet
    peer.start_tls(client_context(), server_side=False, server_name="a.test")
    peer.peer_send(b"hello")
    peer.drive()
    p.run()
    assert log[:2] == ["new", "Connected"] and ("data", b"hello") in log
    assert conn.ssl.version == "TLSv1.3" and conn.ssl.server_name == "a.test" and conn.ssl.peer is None
    up, up_sock = p.connect_upstream()
    up_sock.peer_read()
    assert bytes(up_sock.received) == b"hello"  # plaintext upstream
    up_sock.peer_send(b"world")
    p.run()
    assert peer.peer_read() == b"world"
    assert b"world" not in bytes(peer.wire_received)  # ciphertext on the downstream wire
    assert p.counter("listener.tcp_in.ssl.handshake") == 1


def test_a_client_speaking_plaintext_to_a_tls_chain_never_reaches_the_upstream():
    p = tls_l4()
    conn, sock = accept(p)
    sock.peer_send(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
    p.run()
    assert conn.state is State.CLOSED and not conn.connected
    assert all(not c.connected or not len(c.io.received) for c in p.net.opened)
    assert p.counter("listener.tcp_in.ssl.connection_error") == 1


def test_half_close_in_both_directions_over_tls():
    p = tls_l4()
    conn, peer = tls_client(p)
    up, up_sock = p.connect_upstream()
    peer.peer_send(b"request", end_stream=True)  # close_notify, then FIN
    p.run()
    up_sock.peer_read()
    assert bytes(up_sock.received) == b"request" and up_sock.peer_saw_end
    up_sock.peer_send(b"response", end_stream=True)
    p.run()
    assert peer.peer_read() == b"response" and peer.peer_saw_end


@pytest.mark.parametrize(
    "certificate, require, accepted, stat",
    [
        ("client", True, True, "handshake"),
        ("", True, False, "fail_verify_no_cert"),
        ("other-client", True, False, "fail_verify_error"),
        ("", False, True, "handshake"),
        ("other-client", False, False, "fail_verify_error"),
    ],
)
def test_client_certificates_required_or_optional(certificate, require, accepted, stat):
    p = tls_l4(validation=True, require=require)
    conn, peer = tls_client(p, certificate)
    peer.peer_send(b"x")
    p.run()
    assert p.counter(f"listener.tcp_in.ssl.{stat}") == 1
    assert conn.is_open == accepted
    if accepted:
        peer_cert = conn.ssl.peer
        assert (peer_cert is not None) == bool(certificate)
        if peer_cert is not None:
            assert peer_cert.uri_sans == ("spiffe://proxyfuzz.test/client",)
            assert peer_cert.dns_sans == ("client.proxyfuzz.test",)
            assert peer_cert.subject == "O=proxyfuzz,CN=client"


def test_match_subject_alt_names_refuses_a_valid_certificate_without_the_name():
    p = tls_l4(validation=True, require=True, sans=["spiffe://proxyfuzz.test/other"])
    conn, peer = tls_client(p, "client")
    peer.peer_send(b"x")
    p.run()
    assert conn.state is State.CLOSED and p.counter("listener.tcp_in.ssl.fail_verify_san") == 1


def test_minimum_version_and_ciphers():
    import ssl

    p = tls_l4(tls_minimum_protocol_version="TLSv1_3")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    conn, peer = tls_client(p, context=ctx)
    assert conn.state is State.CLOSED and peer.failed
    q = tls_l4(tls_maximum_protocol_version="TLSv1_2", cipher_suites=["ECDHE-RSA-AES128-GCM-SHA256"])
    conn, peer = tls_client(q)
    assert conn.ssl.version == "TLSv1.2" and conn.ssl.cipher == "ECDHE-RSA-AES128-GCM-SHA256"


def test_network_rbac_on_the_authenticated_principal_decides_after_the_handshake():
    rbac = {
        "rbac": {
            "action": "ALLOW",
            "policies": [
                {
                    "name": "spiffe",
                    "principals": [{"authenticated": {"principal_name": {"prefix": "spiffe://proxyfuzz.test/"}}}],
                }
            ],
        }
    }
    for certificate, allowed in (("client", True), ("", False)):
        p = tls_l4(rbac, validation=True)
        conn, peer = accept(p)
        peer.start_tls(client_context(certificate), server_side=False)
        peer.peer_send(b"secret")  # sent with the client's Finished
        peer.drive()
        p.run()
        p.net.opened[0].io.peer_read()
        assert conn.is_open == allowed
        assert p.counter("rbac.allowed" if allowed else "rbac.denied") == 1
        assert bytes(p.net.opened[0].io.received) == (b"secret" if allowed else b"")


def test_alpn_h2_makes_the_auto_codec_speak_http2_and_the_access_log_has_tls():
    import h2.config
    import h2.connection
    import h2.events

    cfg = {
        "listeners": [
            {
                "name": "web",
                "address": {"host": "127.0.0.1", "port": 10443},
                "filter_chains": [
                    {
                        "tls_context": tls_context(validation=True, alpn=("h2", "http/1.1")),
                        "filters": [
                            {
                                "http_connection_manager": {
                                    "access_log": {"path": "/dev/null"},
                                    "route_config": {
                                        "virtual_hosts": [
                                            {
                                                "name": "all",
                                                "domains": ["*"],
                                                "routes": [
                                                    {
                                                        "match": {"prefix": "/"},
                                                        "direct_response": {"status": 200, "body": "ok"},
                                                    }
                                                ],
                                            }
                                        ]
                                    },
                                }
                            }
                        ],
                    }
                ],
            }
        ]
    }
    p = L4(cfg)
    sink = MemorySink()
    use_sink(p.ctx, "/dev/null", sink)
    conn, peer = tls_client(p, "client", alpn=("h2",))
    assert conn.ssl.alpn == "h2"
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    client.send_headers(
        1, [(":method", "GET"), (":path", "/"), (":scheme", "https"), (":authority", "a")], end_stream=True
    )
    peer.peer_send(client.data_to_send())  # no preface sniffing needed: ALPN chose
    p.run()
    events = client.receive_data(peer.peer_read())
    assert any(isinstance(e, h2.events.ResponseReceived) for e in events)
    attrs = sink.records[0]["attributes"]
    assert attrs["tls.protocol.version"] == "1.3" and attrs["tls.next_protocol"] == "h2"
    assert attrs["tls.client.server_name"] == "www.example.com"
    assert attrs["proxy.tls.peer.uri_sans"] == ["spiffe://proxyfuzz.test/client"]


def upstream_tls_l4(**upstream):
    cluster = {"tls_context": {"sni": "backend.example.com", "common_tls_context": upstream}}
    return with_tls_upstreams(L4(tcp_config(cluster=cluster)))


def test_upstream_tls_sends_sni_verifies_and_carries_plaintext():
    ca = {"trusted_ca": {"filename": str(PKI / "ca.pem")}}
    p = upstream_tls_l4(
        validation_context={**ca, "match_subject_alt_names": ["*.example.com"]},
        tls_certificates=[
            {
                "certificate_chain": {"filename": str(PKI / "client.pem")},
                "private_key": {"filename": str(PKI / "client.key")},
            }
        ],
    )
    conn, sock = p.accept()
    sock.peer_send(b"ping")
    up, server = p.connect_upstream()
    server.drive()
    p.run()
    assert up.connected and up.ssl.server_name == "backend.example.com"
    assert server.obj.getpeercert(True)  # the client certificate was offered
    assert server.peer_read() == b"ping"
    server.peer_send(b"pong")
    p.run()
    assert sock.peer_read() == b"pong"
    assert p.counter("cluster.echo.ssl.handshake") == 1


def test_upstream_verification_failures_close_before_connected():
    for validation, stat in (
        ({"trusted_ca": {"filename": str(PKI / "other-ca.pem")}}, "fail_verify_error"),
        ({"trusted_ca": {"filename": str(PKI / "ca.pem")}, "match_subject_alt_names": ["nope"]}, "fail_verify_san"),
    ):
        p = upstream_tls_l4(validation_context=validation)
        conn, sock = p.accept()
        sock.peer_send(b"ping")
        up, up_sock = p.connect_upstream()
        up_sock.drive()
        p.run()
        assert up.state is State.CLOSED and not up.connected
        assert p.counter(f"cluster.echo.ssl.{stat}") == 1
        assert b"ping" not in bytes(up_sock.wire_received) and not up_sock.received


def test_bad_tls_material_is_a_validation_error_with_its_field_path():
    ctx = tls_context()
    ctx["common_tls_context"]["tls_certificates"][0]["private_key"] = {"filename": str(PKI / "client.key")}
    cfg = tcp_config()
    cfg["listeners"][0]["filter_chains"][0]["tls_context"] = ctx
    import json

    with pytest.raises(ConfigError) as err:
        load_bytes(json.dumps(cfg).encode(), "json")
    assert "listeners[0].filter_chains[0].tls_context.common_tls_context.tls_certificates[0]" in str(err.value)
    cfg["listeners"][0]["filter_chains"][0]["tls_context"] = {
        "common_tls_context": {
            "tls_certificates": [
                {"certificate_chain": {"filename": "/nonexistent"}, "private_key": {"inline_string": "x"}}
            ]
        }
    }
    with pytest.raises(ConfigError) as err:
        load_bytes(json.dumps(cfg).encode(), "json")
    assert "tls_certificates[0].certificate_chain.filename" in str(err.value)
    with pytest.raises(BuildError):
        build(bootstrap(cfg))


@pytest.mark.parametrize("memfd", [True, False], ids=["memory-files", "temporary-directory"])
def test_certificate_and_key_load_from_memory_and_leave_no_file(monkeypatch, tmp_path, memfd):
    """The ssl module loads a chain and key only from paths: they are written to anonymous memory
    files where the platform has them (no directory, nothing to clean up), else to a temporary
    directory removed after. Either way the context serves, and a mismatched key is refused."""
    import tempfile

    from proxy.tls import context

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    if memfd:
        if not hasattr(context.os, "memfd_create"):
            pytest.skip("no memfd_create on this platform")
        monkeypatch.setattr(context.tempfile, "TemporaryDirectory", lambda **_: pytest.fail("a directory was made"))
    else:
        monkeypatch.delattr(context.os, "memfd_create")
    cfg = tcp_config()
    cfg["listeners"][0]["filter_chains"][0]["tls_context"] = tls_context()
    built = build(bootstrap(cfg))
    assert built.listeners[0].filter_chains[0].tls is not None
    assert list(tmp_path.iterdir()) == []
    ctx = tls_context()
    ctx["common_tls_context"]["tls_certificates"][0]["private_key"] = {"filename": str(PKI / "client.key")}
    cfg["listeners"][0]["filter_chains"][0]["tls_context"] = ctx
    with pytest.raises(BuildError, match="not a PEM certificate chain and its private key"):
        build(bootstrap(cfg))
    assert list(tmp_path.iterdir()) == []


def test_a_flushing_close_ends_with_close_notify_after_the_last_record():
    # RFC 8446 6.1: a close_notify before closing the write side, so the peer can tell the end
    # from a truncation (Envoy's SslSocket::closeSocket: SSL_shutdown before every close).
    p = tls_l4()
    conn, peer = tls_client(p)
    conn.write(b"last words")
    conn.close(CloseType.FLUSH_WRITE)
    p.run()
    assert peer.peer_read() == b"last words"
    assert peer.close_notify_seen and conn.state is State.CLOSED and conn.flushed_close


def test_an_abortive_close_sends_no_close_notify():
    # NO_FLUSH drops what is queued, the close_notify with it (docs/semantics.md).
    p = tls_l4()
    conn, peer = tls_client(p)
    conn.write(b"never sent")
    conn.close(CloseType.NO_FLUSH)
    p.run()
    assert peer.peer_read() == b"" and not peer.close_notify_seen and not conn.flushed_close


def test_a_flushing_close_that_cuts_a_message_short_sends_no_close_notify():
    # The bytes go out, but no close_notify: it would make a close-delimited body complete to the
    # client (RFC 9112 9.8), and the proxy knows this one was cut (an upstream reset mid-body).
    p = tls_l4()
    conn, peer = tls_client(p)
    conn.write(b"half a body")
    conn.close(CloseType.FLUSH_WRITE, cut_short=True)
    p.run()
    assert peer.peer_read() == b"half a body"
    assert not peer.close_notify_seen and conn.state is State.CLOSED and conn.close_cut_short
