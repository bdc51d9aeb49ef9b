"""Sessions over TLS (fuzz/tls_session.py): TLS clients with SNI, ALPN and certificates, clear-text
clients on TLS chains, PROXY headers, TLS upstreams; and each oracle fails when a bug is planted:
plaintext on a TLS wire, data before Connected, a chain Envoy's precedence would not pick."""

from pathlib import Path

import pytest

from fuzz import session
from fuzz.oracles import InvariantViolation
from fuzz.session import Action as A, Session
from fuzz.test_pki import ensure
from proxy.build import build
from proxy.network import chain_match
from proxy.tls import transport

from tests.fuzz.test_build_harness import bootstrap

REPO = Path(__file__).resolve().parents[2]

PKI = ensure()
CERT = {
    "certificate_chain": {"filename": str(PKI / "server.pem")},
    "private_key": {"filename": str(PKI / "server.key")},
}


def tls_chain(names, cluster, **extra):
    return {
        "filter_chain_match": {"server_names": names},
        "filters": [{"tcp_proxy": {"cluster": cluster}}],
        "tls_context": {"common_tls_context": {"tls_certificates": [CERT], **extra}},
    }


def config(upstream_tls=False):
    listeners = [
        {
            "name": "sni",
            "address": {"host": "127.0.0.1", "port": 10000},
            "listener_filters": [
                {"proxy_protocol": {"allow_requests_without_proxy_protocol": True}},
                {"tls_inspector": {}},
            ],
            "filter_chains": [
                tls_chain(["a.example.com"], "a"),
                tls_chain(["*.example.com"], "b"),
                {"filters": [{"tcp_proxy": {"cluster": "plain"}}]},
            ],
        }
    ]
    clusters = [{"name": n, "endpoints": [{"host": "127.0.0.1", "port": 9000 + i}]} for i, n in enumerate("ab")]
    clusters.append({"name": "plain", "endpoints": [{"host": "127.0.0.1", "port": 9010}]})
    if upstream_tls:
        for c in clusters:
            c["tls_context"] = {
                "common_tls_context": {"validation_context": {"trusted_ca": {"filename": str(PKI / "ca.pem")}}}
            }
    return build(bootstrap({"listeners": listeners, "clusters": clusters}))


# connect variants: names are "", "a.example.com", "www.example.com" (the wildcard's stand-in)
SNI_A, SNI_WWW = 1, 2
TLS, ALPN_H2, SNI, PROXY_V2 = 1, 1 << 1, 1 << 5, 2 << 6


def run(actions, built=None):
    return Session(built or config()).run(actions)


def tls_connect(variant, mode):
    return A("connect_tls", variant, value=0, payload=bytes([mode]))


def test_tls_clients_reach_the_chain_their_sni_names_and_plaintext_flows_both_ways():
    s = run(
        [
            tls_connect(SNI_A, TLS | SNI | ALPN_H2),
            tls_connect(SNI_WWW, TLS | SNI | PROXY_V2),
            A("upstream_connect", 0),
            A("upstream_connect", 1),
            A("send", 0, payload=b"to a"),
            A("send", 1, payload=b"to b", end_stream=True),
            A("upstream_read", 0),
            A("upstream_read", 1),
            A("upstream_send", 0, payload=b"from a"),
            A("read", 0),
        ]
    )
    a, b = s.downstream[0], s.downstream[1]
    assert a.conn.stream_info["filter_chain"] == "filter_chains[0]" and a.conn.ssl.alpn == ""
    assert b.conn.stream_info["filter_chain"] == "filter_chains[1]"
    assert b.conn.remote_address != b.conn.direct_remote_address  # the PROXY header's source
    ups = {c.remote_address[1]: c.io for c in s.network.opened}
    assert bytes(ups[9000].received) == b"to a" and bytes(ups[9001].received) == b"to b"
    assert bytes(a.received) == b"from a"
    assert b"to a" not in bytes(a.wire_sent)  # encrypted on the wire


def test_a_clear_text_client_on_a_tls_listener_takes_the_plaintext_chain():
    s = run(
        [
            A("connect_tls", SNI_A, payload=bytes([SNI])),
            A("send", 0, payload=b"GET / HTTP/1.1\r\n\r\n"),
            A("upstream_connect", 0),
            A("upstream_read", 0),
        ]
    )
    conn = s.downstream[0].conn
    assert conn.stream_info["filter_chain"] == "filter_chains[2]" and conn.transport_protocol == "raw_buffer"


def test_tls_upstreams_get_plaintext_through_their_own_handshake():
    s = run(
        [
            tls_connect(SNI_A, TLS | SNI),
            A("upstream_connect", 0),
            A("send", 0, payload=b"secret"),
            A("upstream_read", 0),
        ],
        config(upstream_tls=True),
    )
    up = s.network.opened[0]
    assert up.ssl is not None and bytes(up.io.received) == b"secret"
    assert b"secret" not in bytes(up.io.wire_received)


def test_plaintext_on_a_tls_wire_is_caught(monkeypatch):
    monkeypatch.setattr(
        transport.TlsTransportSocket,
        "take_wire_output",
        lambda self, conn, n: conn.write_buffer.take(n) or self.outgoing.read(-1 if n is None else n),
    )
    with pytest.raises(InvariantViolation) as err:
        run(
            [
                tls_connect(SNI_A, TLS | SNI),
                A("upstream_connect", 0),
                A("upstream_send", 0, payload=b"reply"),
                A("read", 0),
            ]
        )
    assert err.value.name == "tls_plaintext_on_the_wire"


def test_data_before_connected_is_caught(monkeypatch):
    real = transport.TlsTransportSocket._handshake

    def connected_late(self, conn):  # plaintext reaches the filters before Connected is raised
        raise_connected, conn.raise_connected = conn.raise_connected, lambda: None
        real(self, conn)
        if self.handshaken:
            self._read(conn, False)
            raise_connected()

    monkeypatch.setattr(transport.TlsTransportSocket, "_handshake", connected_late)
    with pytest.raises(InvariantViolation) as err:
        run([tls_connect(SNI_A, TLS | SNI), A("upstream_connect", 0), A("send", 0, payload=b"early")])
    assert err.value.name == "data_before_connected"


def test_a_chain_against_envoys_precedence_is_caught(monkeypatch):
    monkeypatch.setattr(chain_match, "_wildcards", lambda name: iter(()))  # wildcards never match
    with pytest.raises(InvariantViolation) as err:
        run([tls_connect(SNI_WWW, TLS | SNI), A("upstream_connect", 0)])
    assert err.value.name == "listener_filter_chain_match"


def test_connect_tls_round_trips_through_the_encoder():
    actions = [tls_connect(3, 0xA5), A("send", 1, payload=b"x", end_stream=True)]
    data = session.encode_actions(actions)
    assert session.decode_actions(session.Reader(data[2:]))[1:] == actions


def test_connected_before_the_handshake_is_caught(monkeypatch):
    from proxy.network.listener import BuiltListener

    real = BuiltListener._start

    def connected_at_accept(self, conn, chain, ctx):  # as if TLS sockets were up at accept
        real(self, conn, chain, ctx)
        conn.raise_connected()

    monkeypatch.setattr(BuiltListener, "_start", connected_at_accept)
    with pytest.raises(InvariantViolation) as err:
        run([tls_connect(SNI_A, TLS | SNI), A("upstream_connect", 0)])
    assert err.value.name == "connected_before_handshake"


def tls_only():
    """One listener whose only chain terminates TLS in front of tcp_proxy (the CI crash's shape)."""
    listener = {
        "name": "tls",
        "address": {"host": "127.0.0.1", "port": 10000},
        "filter_chains": [
            {
                "filters": [{"tcp_proxy": {"cluster": "a"}}],
                "tls_context": {"common_tls_context": {"tls_certificates": [CERT]}},
            }
        ],
    }
    return build(
        bootstrap(
            {"listeners": [listener], "clusters": [{"name": "a", "endpoints": [{"host": "127.0.0.1", "port": 9000}]}]}
        )
    )


def test_a_clear_text_client_on_a_tls_only_chain_reads_an_alert_and_nothing_relayed():
    """A client that never starts TLS sends bytes that are no ClientHello: the proxy answers with a
    TLS alert record and closes. The alert is the TLS stack's (judged as records), not bytes relayed
    from the upstream, which sent none: CI reported it as bytes_invented."""
    s = run(
        [
            A("connect_tls", 0, payload=bytes([0])),
            A("upstream_connect", 0),
            A("send", 0, payload=b"\x00\x03\r\x00\x04\x06\x01\n\x01\x00\x00\x00\t", end_stream=True),
            A("read", 0),
        ],
        tls_only(),
    )
    client = s.downstream[0]
    assert bytes(client.wire_received)[:1] == b"\x15"  # an alert record
    assert not client.conn.connected and not s.network.opened[0].io.sent


def test_invented_plaintext_for_a_tls_client_is_still_caught(monkeypatch):
    real = transport.TlsTransportSocket.take_wire_output

    def doubled(self, conn, n):  # every plaintext chunk is encrypted twice
        if self.handshaken and len(conn.write_buffer):
            conn.write_buffer.add(conn.write_buffer.bytes())
        return real(self, conn, n)

    monkeypatch.setattr(transport.TlsTransportSocket, "take_wire_output", doubled)
    with pytest.raises(InvariantViolation) as err:
        run(
            [tls_connect(0, TLS), A("upstream_connect", 0), A("upstream_send", 0, payload=b"reply"), A("read", 0)],
            tls_only(),
        )
    assert err.value.name == "bytes_invented"


def test_a_clear_text_client_on_a_tls_http_chain_is_not_judged_as_http():
    """CI: a client that sent 5 clear-text bytes to a listener whose chosen chain terminates TLS in
    front of an HTTP connection manager read the proxy's TLS alert, and its HTTP/1.1 peer called the
    alert an invalid response (peer_h1_response_rejected). Such a client has no plaintext view."""
    seed = REPO / "corpus" / "session" / "regress-clear-text-client-on-tls-http-chain-reads-alert"
    session.run_input(session.ConfigPool.default(), seed.read_bytes())


def test_a_broken_response_to_a_clear_text_client_is_still_judged(monkeypatch):
    """The same peer still judges what a plaintext chain writes: a proxy that answers an HTTP/1.1
    request with bytes that are no response is caught."""
    from proxy.http.h1 import H1ServerCodec

    from tests.fuzz.test_liveness import GET, fails, http

    real = H1ServerCodec.data_to_send
    monkeypatch.setattr(
        H1ServerCodec, "data_to_send", lambda self: b"\x15\x03\x00\x00\x02\x02\n" if real(self) else b""
    )
    fails(
        "peer_h1_response_rejected",
        http(),
        [
            A("send", payload=GET),
            A("upstream_connect"),
            A("upstream_send", payload=b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
        ],
    )


def test_records_are_judged_from_where_the_last_check_stopped_and_a_later_bad_one_is_caught():
    from types import SimpleNamespace

    from fuzz.tls_session import check_wire_records

    sock = SimpleNamespace(wire_received=bytearray(b"\x16\x03\x03\x00\x02hi" + b"\x17\x03\x03\x00\x05he"))
    check_wire_records("downstream 0", sock)  # a whole record, then the next one's header and 2 of its 5 bytes
    assert sock.fuzz_records_at == 17  # where the record after it will start
    sock.wire_received += b"llo"  # the rest of that record
    check_wire_records("downstream 0", sock)
    assert sock.fuzz_records_at == 17
    sock.wire_received += b"HTTP/1.1 200 OK\r\n"  # plaintext after the records
    with pytest.raises(InvariantViolation, match="byte 17 starts"):
        check_wire_records("downstream 0", sock)


def test_a_client_that_never_starts_its_handshake_is_a_wait_on_that_client():
    """network_filter (TLS listener): a client connects to a TLS chain and sends nothing; tcp_proxy
    has its upstream already, whose bytes wait for the handshake and pause the upstream at the
    buffer limit. Nothing but the client can move that (or tcp_proxy's idle timeout, unset here):
    liveness called it stall_read_disabled_tcp_proxy."""
    s = run(
        [
            A("connect_tls", 0, payload=bytes([0])),
            A("upstream_connect", 0),
            A("upstream_send", 0, payload=b"u" * 2_000_000),
        ],
        tls_only(),
    )
    assert not s.downstream[0].wire_received and len(s.network.opened[0].io.sent) == 2_000_000


def test_a_clients_record_starts_after_the_proxy_header_it_sent_raw():
    """fuzz run session from an empty corpus (config-s1-0004): a clear-text client sent a PROXY v1
    header, then HEAD. Its own record read the header as HTTP, understood no request, and framed the
    404's answer to HEAD (content-length 9, no body) as a GET's: peer_h1_response_rejected."""
    seed = REPO / "corpus" / "session" / "regress-head-after-a-proxy-header-is-framed-as-head"
    s = session.run_input(session.ConfigPool.default(), seed.read_bytes())
    client = s.peers.clients[2]
    assert client.exchanges[0].request.method == b"HEAD"  # the garbage after it is not understood
    assert client.exchanges[0].response.status == 404


def test_http2_after_a_proxy_header_sent_raw_is_read_as_http2():
    """fuzz run session from an empty corpus (-seed=7001, config-s1-0009): a client sent a PROXY v2
    header raw, then HTTP/2's preface and SETTINGS. The peers looked for the preface at the header's
    place, took the client for HTTP/1.1, and h11 refused the proxy's SETTINGS as a response:
    peer_h1_response_rejected."""
    seed = REPO / "corpus" / "session" / "regress-http2-after-a-proxy-header-is-http2"
    s = session.run_input(session.ConfigPool.default(), seed.read_bytes())
    assert s.downstream[4].raw_sent and type(s.peers.clients[4]).__name__ == "H2Client"


def test_a_proxy_header_no_listener_filter_takes_is_http_bytes():
    """fuzz run session (6 min, config-s1-0014): a client sent a PROXY v1 header to a listener without
    a proxy_protocol filter, so the HTTP codec read it as the start of a request (then held as a head
    still arriving until the stream idle timeout's 408; since 7becdba refused at once, 400, as no
    request line can start so). The client's record skipped the header as if a filter had taken it,
    saw no request, and idle_connection_not_closed expected the 181 ms idle close."""
    seed = REPO / "corpus" / "session" / "regress-a-proxy-header-no-filter-takes-is-http"
    s = session.run_input(session.ConfigPool.default(), seed.read_bytes())
    client = s.downstream[2]
    assert client.raw_sent == 0 and bytes(client.sent).startswith(b"PROXY TCP6 ")
    assert bytes(client.received).startswith(b"HTTP/1.1 400 ") and client.is_closed


def _waiting_request_session():
    """A TLS client whose request is ready before its handshake ends (tcp_proxy reads nothing until
    its upstream connects): the request goes out with the client's last flight, in one write."""
    return [
        tls_connect(SNI_A, TLS | SNI),
        A("send", 0, payload=b"to a"),
        A("upstream_connect", 0),
        A("upstream_read", 0),
    ]


def test_a_request_sent_with_the_clients_finished_reaches_the_upstream():
    s = run(_waiting_request_session())
    client = s.downstream[0]
    assert bytes(s.network.opened[0].io.received) == b"to a"
    # Finished and the request's record left the client in one write (the wire's last one).
    assert client.conn.ssl is not None and client.unsent == 0


def test_records_left_in_the_tls_socket_after_the_handshake_are_caught(monkeypatch):
    # The bug class (PLANT_L round 8, tls-data-with-handshake-finished-stalls): the read that ends the
    # handshake does not decrypt the records that came with it; they wait for a read that never comes.
    def handshake_reads_only_the_handshake(self, conn, data, end_stream):
        if self.failed:
            return
        if data:
            self.incoming.write(data)
        if not self.handshaken:
            self._handshake(conn)
            return
        if conn.is_open:
            self._read(conn, end_stream)

    monkeypatch.setattr(transport.TlsTransportSocket, "on_wire_read", handshake_reads_only_the_handshake)
    with pytest.raises(InvariantViolation) as err:
        run(_waiting_request_session())
    assert err.value.name == "stall_tls_input_not_decrypted"


def mtls(**validation):
    """One listener whose only chain terminates TLS and asks for a client certificate of the test CA."""
    context = {
        "require_client_certificate": True,
        "common_tls_context": {
            "tls_certificates": [CERT],
            "validation_context": {"trusted_ca": {"filename": str(PKI / "ca.pem")}, **validation},
        },
    }
    listener = {
        "name": "mtls",
        "address": {"host": "127.0.0.1", "port": 10000},
        "filter_chains": [{"filters": [{"tcp_proxy": {"cluster": "a"}}], "tls_context": context}],
    }
    clusters = [{"name": "a", "endpoints": [{"host": "127.0.0.1", "port": 9000}]}]
    return build(bootstrap({"listeners": [listener], "clusters": clusters}))


NO_CERT, TEST_CA_CERT, OTHER_CA_CERT = 0, 1 << 3, 2 << 3
REFUSALS = [
    pytest.param(mtls(), NO_CERT, "fail_verify_no_cert", id="no-certificate"),
    pytest.param(mtls(), OTHER_CA_CERT, "fail_verify_error", id="untrusted-ca"),
    pytest.param(mtls(match_subject_alt_names=["other.test"]), TEST_CA_CERT, "fail_verify_san", id="san"),
]


@pytest.mark.parametrize("built, certificate, stat", REFUSALS)
def test_each_client_refusal_is_counted_under_its_reason(built, certificate, stat):
    s = run([tls_connect(0, TLS | certificate), A("advance", value=1), tls_connect(0, TLS | certificate)], built)
    assert s.ctx.stats.counters.get(f"listener.mtls.ssl.{stat}") == 2 and s.fuzz_refusals


@pytest.mark.parametrize("built, certificate, stat", REFUSALS[:2])  # the handshake's own refusals
def test_a_refusal_counted_under_another_reason_is_caught(monkeypatch, built, certificate, stat):
    # The bug class (PLANT round 12): the reason matched under the name the client's side logs, so
    # every refusal falls through to connection_error.
    monkeypatch.setattr(transport, "_failure_stat", lambda exc: "connection_error")
    with pytest.raises(InvariantViolation) as err:
        run([tls_connect(0, TLS | certificate)], built)
    assert err.value.name == "tls_client_refusal_miscounted", str(err.value)
