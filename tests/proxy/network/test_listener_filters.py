"""Listener filters: tls_inspector, proxy_protocol, http_inspector, and the stage that runs them
before a filter chain is chosen (Envoy's model: peek, decide, then the chain sees every byte that
was not a PROXY header)."""

import pytest

from proxy.network.connection import State
from proxy.network.listener_filters import http_inspector, proxy_protocol, tls_inspector

from tests.fuzz.test_build_harness import L4, tcp_config
from tlsscript import client_hello, reframe


# -- tls_inspector ---------------------------------------------------------------------------------


def test_a_real_client_hello_gives_sni_and_alpn_in_any_split_and_any_record_size():
    hello = client_hello("www.Example.com", ("h2", "http/1.1"))
    expected = tls_inspector.ClientHello("www.Example.com", ("h2", "http/1.1"))
    assert tls_inspector.inspect(hello) == expected
    for cut in range(len(hello)):
        assert tls_inspector.inspect(hello[:cut]) == tls_inspector.NEED_MORE
    for size in (1, 7, 100):
        assert tls_inspector.inspect(reframe(hello, size)) == expected
    # 0-RTT or anything else after the ClientHello does not matter.
    assert tls_inspector.inspect(hello + b"\x17\x03\x03\x00\x01x") == expected


@pytest.mark.parametrize(
    "data",
    [
        reframe(client_hello("a.example", ("h2",)), 1),
        reframe(client_hello("a.example"), 7)[:-3],  # a record still arriving at the end
        client_hello("b.example") + b"\x17\x03\x03\x00\x01x",
        b"\x16\x03\x01\x00\x01\x01\x16\x03\x01\x00\x03\x00\x00\x04\x16\x03\x01\x00\x02\x03\x00\x16\x02",
        b"\x16\x03\x01\x00\x03\x01\x01\x00\x16\x03\x01\x00\x01\x00",
    ],
)
def test_a_read_at_a_time_gives_what_the_whole_prefix_gives(data):
    """The filter keeps the records it read between reads; after each read it answers as a fresh
    look at everything so far would."""
    f = tls_inspector.TlsInspector()
    for n in range(1, len(data) + 1):
        assert f._records_inspect(data[:n]) == tls_inspector.inspect(data[:n]), n


def test_a_client_hello_trickled_in_one_byte_records_costs_each_record_once(monkeypatch):
    """Re-reading every record on every read was quadratic: a 3 KB ClientHello sent a byte a read
    in one-byte records cost seconds of CPU (found by fuzz run listener_filter)."""
    data = reframe(client_hello("a.example", ("h2", "http/1.1")), 1)
    calls = []
    original = tls_inspector._decided
    monkeypatch.setattr(tls_inspector, "_decided", lambda stream: calls.append(1) or original(stream))
    f = tls_inspector.TlsInspector()
    for n in range(1, len(data) + 1):
        found = f._records_inspect(data[:n])
    assert found == tls_inspector.ClientHello("a.example", ("h2", "http/1.1"))
    assert len(calls) < 4 * len(data)


def test_no_extensions_means_no_name_and_no_protocols():
    assert tls_inspector.inspect(client_hello()) == tls_inspector.ClientHello("", ())


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\n",
        b"\x16\x02",
        b"\x16\x03\x01\x00\x00",
        b"\x16\x03\x01\x40\x01",
        b"\x16\x03\x01\x00\x04\x02\x00\x00\x00",
    ],
)
def test_anything_else_is_not_tls(data):
    assert tls_inspector.inspect(data) == tls_inspector.NOT_TLS


def test_a_client_hello_that_cannot_fit_in_64_kib_is_too_large():
    assert tls_inspector.inspect(b"\x16\x03\x01\x00\x04\x01\x01\x00\x00") == tls_inspector.TOO_LARGE
    body = b"\x01" + (60000).to_bytes(3, "big")
    stream = body + b"\x00" * 70000
    tiny_records = reframe(b"\x16\x03\x01" + len(stream[:16]).to_bytes(2, "big") + stream[:16], 1)
    assert tls_inspector.inspect(tiny_records) == tls_inspector.NEED_MORE
    many = b"".join(b"\x16\x03\x01\x00\x01" + bytes([b]) for b in stream[:11000])  # 66000 bytes
    assert tls_inspector.inspect(many) == tls_inspector.TOO_LARGE


def test_a_malformed_server_name_is_not_tls():
    hello = client_hello("a.test")
    broken = hello.replace(b"a.test", b"a te\x00t")
    assert tls_inspector.inspect(broken) == tls_inspector.NOT_TLS


# -- proxy_protocol --------------------------------------------------------------------------------

V2 = proxy_protocol.V2_SIGNATURE


def v2(command=1, family=0x11, addresses=b"", tlvs=b""):
    block = addresses + tlvs
    return V2 + bytes([0x20 | command, family]) + len(block).to_bytes(2, "big") + block


def test_v1_tcp4_tcp6_and_unknown():
    parse = proxy_protocol.parse
    h = parse(b"PROXY TCP4 192.0.2.1 198.51.100.2 5000 80\r\nGET")
    assert (h.version, h.length, h.source, h.destination) == (1, 43, ("192.0.2.1", 5000), ("198.51.100.2", 80))
    assert parse(b"PROXY TCP6 2001:db8::1 ::1 1 65535\r\n").source == ("2001:db8::1", 1)
    assert parse(b"PROXY UNKNOWN whatever\r\n").source is None
    for bad in (
        b"PROXY TCP4 192.0.2.1 198.51.100.2 5000 65536\r\n",
        b"PROXY TCP4 ::1 ::1 1 1\r\n",
        b"PROXY TCP4  192.0.2.1 198.51.100.2 1 1\r\n",
        b"PROXY TCP6 fe80::1%eth0 ::1 1 1\r\n",
        b"PROXY " + b"x" * 101 + b"\r\n",
    ):
        assert parse(bad) == proxy_protocol.MALFORMED, bad
    assert parse(b"PROXY TCP4 1.2") == proxy_protocol.NEED_MORE
    assert parse(b"PRO") == proxy_protocol.NEED_MORE
    assert parse(b"GET / HTTP/1.1") == proxy_protocol.NOT_PROXY


def test_v2_addresses_tlvs_local_and_unsupported_families():
    addresses = bytes([192, 0, 2, 1, 127, 0, 0, 1]) + (5000).to_bytes(2, "big") + (443).to_bytes(2, "big")
    tlvs = b"\x02\x00\x03abc" + b"\xea\x00\x00"
    h = proxy_protocol.parse(v2(addresses=addresses, tlvs=tlvs) + b"payload")
    assert (h.version, h.source, h.destination, h.tlvs) == (
        2,
        ("192.0.2.1", 5000),
        ("127.0.0.1", 443),
        ((2, b"abc"), (0xEA, b"")),
    )
    assert h.length == 16 + 12 + 9
    assert proxy_protocol.parse(v2(command=0, family=0x31, addresses=b"\x00" * 216)).source is None
    assert proxy_protocol.parse(v2(family=0x31, addresses=b"\x00" * 216)) == proxy_protocol.MALFORMED
    assert proxy_protocol.parse(v2(addresses=addresses, tlvs=b"\x02\x00\x09ab")) == proxy_protocol.MALFORMED
    assert proxy_protocol.parse(v2(addresses=addresses[:11])) == proxy_protocol.MALFORMED
    assert proxy_protocol.parse(V2 + b"\x22\x11\x00\x00") == proxy_protocol.MALFORMED  # command 2
    whole = v2(addresses=addresses, tlvs=tlvs)
    for cut in range(len(whole)):
        assert proxy_protocol.parse(whole[:cut]) == proxy_protocol.NEED_MORE


# -- http_inspector --------------------------------------------------------------------------------


def test_http_inspector_versions_preface_and_not_http():
    inspect = http_inspector.inspect
    assert inspect(b"GET /a?b HTTP/1.1\r\nhost: x\r\n") == "http/1.1"
    assert inspect(b"OPTIONS * HTTP/1.0\r\n") == "http/1.0"
    assert inspect(http_inspector.H2_PREFACE) == "h2c"
    assert inspect(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n") == http_inspector.NOT_HTTP
    assert inspect(b"GET / HTTP/2.0\r\n") == http_inspector.NOT_HTTP
    assert inspect(b"GET  / HTTP/1.1\r\n") == http_inspector.NOT_HTTP
    assert inspect(b"\x16\x03\x01") == http_inspector.NOT_HTTP
    assert inspect(b"GET / HTTP/1.1\n") == http_inspector.NOT_HTTP
    assert inspect(b"G" * 8192) == http_inspector.NOT_HTTP
    line = b"POST /x HTTP/1.1\r\n"
    for cut in range(len(line)):
        assert inspect(line[:cut]) == http_inspector.NEED_MORE


# -- the stage: listener filters on a connection ---------------------------------------------------


def proxy_listener(*listener_filters, **listener):
    return L4(tcp_config(listener={"listener_filters": list(listener_filters), **listener}))


def test_a_proxy_header_is_drained_and_names_the_source_the_filters_see():
    p = proxy_listener({"proxy_protocol": {"tlv_types": [2]}})
    conn, sock = p.accept(read_size=3)
    addresses = bytes([192, 0, 2, 1, 127, 0, 0, 1]) + (5000).to_bytes(2, "big") + (10000).to_bytes(2, "big")
    sock.peer_send(v2(addresses=addresses, tlvs=b"\x02\x00\x02hi\x03\x00\x00") + b"hello")
    p.run()
    up, up_sock = p.connect_upstream()
    up_sock.peer_read()
    assert conn.remote_address == ("192.0.2.1", 5000) and conn.direct_remote_address == ("10.0.0.1", 50000)
    assert conn.stream_info["proxy_protocol_tlvs"] == {2: b"hi"}
    assert bytes(up_sock.received) == b"hello"


def test_a_connection_without_a_header_is_closed_unless_allowed():
    p = proxy_listener({"proxy_protocol": {}})
    conn, sock = p.accept()
    sock.peer_send(b"GET / HTTP/1.1\r\n")
    assert conn.state is State.CLOSED and not p.net.opened
    assert p.counter("listener.tcp_in.downstream_cx_proxy_proto_error") == 1
    assert p.ctx.stats.gauge("listener.tcp_in.downstream_pre_cx_active") == 0
    q = proxy_listener({"proxy_protocol": {"allow_requests_without_proxy_protocol": True}})
    conn, sock = q.accept()
    sock.peer_send(b"GET / HTTP/1.1\r\n", end_stream=True)
    up, up_sock = q.connect_upstream()
    q.run()
    up_sock.peer_read()
    assert bytes(up_sock.received) == b"GET / HTTP/1.1\r\n" and conn.remote_address == ("10.0.0.1", 50000)


def test_an_unfinished_client_hello_is_closed_at_the_listener_filters_timeout():
    p = proxy_listener({"tls_inspector": {}})
    conn, sock = p.accept()
    sock.peer_send(client_hello("a.test")[:20])
    p.advance(14_999)
    assert conn.is_open and p.ctx.stats.gauge("listener.tcp_in.downstream_pre_cx_active") == 1
    p.advance(1)
    assert conn.state is State.CLOSED and not p.net.opened
    assert p.counter("listener.tcp_in.downstream_pre_cx_timeout") == 1
    assert p.ctx.stats.gauge("listener.tcp_in.downstream_pre_cx_active") == 0


def test_continue_on_timeout_matches_with_what_was_found_and_keeps_the_bytes():
    p = proxy_listener(
        {"http_inspector": {}}, listener_filters_timeout_ms=500, continue_on_listener_filters_timeout=True
    )
    conn, sock = p.accept()
    sock.peer_send(b"GE")
    p.advance(500)
    up, up_sock = p.connect_upstream()
    up_sock.peer_read()
    assert conn.is_open and bytes(up_sock.received) == b"GE"
    assert conn.transport_protocol == "raw_buffer" and conn.application_protocols == ()


def test_the_peer_closing_while_a_filter_waits_closes_the_connection():
    p = proxy_listener({"tls_inspector": {}})
    conn, sock = p.accept()
    sock.peer_send(b"\x16\x03", end_stream=True)
    assert conn.state is State.CLOSED and not p.net.opened


def test_filters_run_in_order_and_the_chain_sees_every_undrained_byte_in_any_read_size():
    hello = client_hello("www.example.com", ("h2",))
    header = b"PROXY TCP4 192.0.2.1 127.0.0.1 1 10000\r\n"
    for read_size in (1, 7, 16384):
        p = proxy_listener(
            {"proxy_protocol": {}},
            {"tls_inspector": {}},
            {"http_inspector": {}},
            per_connection_buffer_limit_bytes=1024,
        )
        conn, sock = p.accept(read_size=read_size)
        sock.peer_send(header + hello)
        up, up_sock = p.connect_upstream()
        p.run()
        up_sock.peer_read()
        assert bytes(up_sock.received) == hello
        assert (conn.server_name, conn.transport_protocol, conn.application_protocols) == (
            "www.example.com",
            "tls",
            ("h2",),
        )
        assert p.counter("listener.tcp_in.tls_inspector.tls_found") == 1
        assert p.counter("listener.tcp_in.http_inspector.http_not_found") == 0  # skipped: TLS


def test_http_inspector_calls_a_line_whose_version_is_cut_short_by_cr_not_http():
    """CI (listener_filter, 20 s): "GET GET \\r" can no longer become a request line (the version
    before the CR is empty), yet the inspector waited for more and the connection was closed at
    the listener-filter timeout instead of passing on without a protocol."""
    from proxy.network.listener_filters.http_inspector import NEED_MORE, NOT_HTTP, inspect

    assert inspect(b"GET GET \r") is NOT_HTTP
    assert inspect(b"GET / HTTP/1.\r") is NOT_HTTP
    assert inspect(b"GET / HTTP/1.1\r") is NEED_MORE
    assert inspect(b"GET / HTTP/1.1\r\n") == "http/1.1"
