"""Listener: filter chain selection in Envoy's order (port, server name, source prefix; most
specific wins at each step, no backtracking), and connection creation."""

import pytest

from proxy.build import BuildError, build
from proxy.network.connection import DEFAULT_BUFFER_LIMIT, State

from tests.fuzz.test_build_harness import L4, bootstrap, tcp_config


def chains(*matches):
    """One chain per match, each proxying to its own cluster c0, c1, ...: the upstream tells which won."""
    cfg = tcp_config(
        chains=[
            {"filter_chain_match": m, "filters": [{"tcp_proxy": {"cluster": f"c{i}"}}]}
            if m is not None
            else {"filters": [{"tcp_proxy": {"cluster": f"c{i}"}}]}
            for i, m in enumerate(matches)
        ]
    )
    cfg["clusters"] = [
        {"name": f"c{i}", "endpoints": [{"host": "127.0.0.1", "port": 9000 + i}]} for i in range(len(matches))
    ]
    return L4(cfg)


def chosen(p, **accept):
    """Index of the chain that took the connection, or None if it was refused."""
    before = len(p.net.opened)
    conn, _ = p.accept(**accept)
    if conn is None:
        return None
    assert len(p.net.opened) == before + 1
    return p.net.opened[-1].remote_address[1] - 9000


def test_a_chain_naming_the_destination_port_beats_one_naming_none():
    p = chains(None, {"destination_port": 10000})
    assert chosen(p, local_port=10000) == 1
    assert chosen(p, local_port=10001) == 0


def test_a_chain_naming_another_port_never_matches():
    p = chains({"destination_port": 10001})
    assert chosen(p, local_port=10000) is None
    assert p.counter("listener.tcp_in.no_filter_chain_match") == 1


def test_server_names_exact_then_longest_wildcard_then_none():
    p = chains(
        None, {"server_names": ["*.com"]}, {"server_names": ["*.example.com"]}, {"server_names": ["www.example.com"]}
    )
    assert chosen(p, server_name="www.example.com") == 3
    assert chosen(p, server_name="WWW.Example.COM") == 3  # names compare case-insensitively
    assert chosen(p, server_name="api.example.com") == 2
    assert chosen(p, server_name="a.b.example.com") == 2
    assert chosen(p, server_name="other.com") == 1
    assert chosen(p, server_name="example.org") == 0
    assert chosen(p, server_name="") == 0  # no SNI: only chains without names


def test_a_wildcard_does_not_match_the_bare_domain():
    p = chains({"server_names": ["*.example.com"]})
    assert chosen(p, server_name="example.com") is None


def test_the_longest_source_prefix_wins_then_chains_without_prefixes():
    p = chains(
        None, {"source_prefix_ranges": ["10.0.0.0/8"]}, {"source_prefix_ranges": ["10.1.0.0/16", "192.0.2.0/24"]}
    )
    assert chosen(p, remote=("10.1.2.3", 1)) == 2
    assert chosen(p, remote=("10.2.0.1", 1)) == 1
    assert chosen(p, remote=("192.0.2.9", 1)) == 2
    assert chosen(p, remote=("172.16.0.1", 1)) == 0
    assert chosen(p, remote=("::1", 1)) == 0


def test_no_backtracking_once_a_step_picked_the_most_specific_chains():
    # Envoy: the port step keeps only the chain naming port 10000; its source prefix then fails,
    # and the catch-all chain is not reconsidered.
    p = chains(None, {"destination_port": 10000, "source_prefix_ranges": ["10.0.0.0/8"]})
    assert chosen(p, local_port=10000, remote=("10.0.0.1", 1)) == 1
    assert chosen(p, local_port=10000, remote=("192.168.0.1", 1)) is None
    assert chosen(p, local_port=10001, remote=("192.168.0.1", 1)) == 0


def test_criteria_combine_port_first_then_name_then_source():
    p = chains(
        {"destination_port": 10000, "server_names": ["a.test"]},
        {"destination_port": 10000, "server_names": ["a.test"], "source_prefix_ranges": ["10.0.0.0/8"]},
        {"server_names": ["a.test"], "source_prefix_ranges": ["10.0.0.0/8"]},
    )
    assert chosen(p, local_port=10000, server_name="a.test", remote=("10.9.9.9", 1)) == 1
    assert chosen(p, local_port=10000, server_name="a.test", remote=("11.0.0.1", 1)) == 0
    assert chosen(p, local_port=10005, server_name="a.test", remote=("10.0.0.1", 1)) == 2


def test_two_chains_with_the_same_match_are_a_build_error():
    cfg = tcp_config(
        chains=[
            {
                "filter_chain_match": {"server_names": ["a.test", "b.test"]},
                "filters": [{"tcp_proxy": {"cluster": "echo"}}],
            },
            {"filter_chain_match": {"server_names": ["b.test"]}, "filters": [{"tcp_proxy": {"cluster": "echo"}}]},
        ]
    )
    with pytest.raises(BuildError) as err:
        build(bootstrap(cfg))
    assert err.value.path == "listeners[0].filter_chains[1].filter_chain_match"
    assert "filter_chains[0]" in err.value.message


def test_prefixes_that_normalize_to_the_same_network_are_the_same_match():
    cfg = tcp_config(
        chains=[
            {
                "filter_chain_match": {"source_prefix_ranges": ["10.0.0.1/8"]},
                "filters": [{"tcp_proxy": {"cluster": "echo"}}],
            },
            {
                "filter_chain_match": {"source_prefix_ranges": ["10.0.0.0/8"]},
                "filters": [{"tcp_proxy": {"cluster": "echo"}}],
            },
        ]
    )
    with pytest.raises(BuildError):
        build(bootstrap(cfg))


def test_the_connection_gets_the_listener_buffer_limit():
    assert L4(tcp_config()).accept()[0].buffer_limit == DEFAULT_BUFFER_LIMIT
    p = L4(tcp_config(listener={"per_connection_buffer_limit_bytes": 4096}))
    conn, sock = p.accept()
    assert conn.buffer_limit == 4096 and conn.read_buffer.high_watermark == 4097
    assert sock.conn is conn  # the transport is bound to it


def test_each_connection_gets_fresh_filter_instances_initialized_and_connected():
    p = L4(tcp_config({"rbac": {"action": "DENY"}}))
    a, _ = p.accept()
    b, _ = p.accept()
    fa = [x.filter for x in a.filter_manager.read_filters]
    fb = [x.filter for x in b.filter_manager.read_filters]
    assert [type(f).__name__ for f in fa] == ["RbacFilter", "TcpProxyFilter"]
    assert all(x is not y for x, y in zip(fa, fb))
    assert all(x.initialized for x in a.filter_manager.read_filters)  # on_new_connection ran
    assert a.connected and a.is_open
    assert p.counter("listener.tcp_in.downstream_cx_total") == 2
    assert p.ctx.stats.gauge("listener.tcp_in.downstream_cx_active") == 2
    a.close()
    assert p.ctx.stats.gauge("listener.tcp_in.downstream_cx_active") == 1


def test_a_connection_a_filter_refuses_is_returned_closed():
    p = L4(tcp_config({"rbac": {"action": "ALLOW"}}))
    conn, sock = p.accept()
    assert conn.state is State.CLOSED and sock.is_closed
    assert p.ctx.stats.gauge("listener.tcp_in.downstream_cx_active") == 0


def test_the_connection_is_connected_before_filters_run_so_a_flush_write_close_flushes():
    from proxy.network.connection import CloseType
    from proxy.network.filter import STOP_ITERATION, ReadFilter
    from proxy.network.listener import BuiltFilterChain, BuiltListener, FilterChainMatch

    class GreetThenClose(ReadFilter):
        def on_new_connection(self):
            conn = self.callbacks.connection
            conn.write(b"banner\n")
            conn.close(CloseType.FLUSH_WRITE)
            return STOP_ITERATION

    def install(conn, ctx):
        conn.add_read_filter(GreetThenClose())

    listener = BuiltListener(
        "greet", ("127.0.0.1", 0), 1 << 20, (BuiltFilterChain(FilterChainMatch(), (install,), ("greet",)),)
    )
    p = L4(tcp_config())
    from proxy.network.sim import SimSocket

    sock = SimSocket()
    conn = listener.create_connection(p.ctx, sock, ("127.0.0.1", 1), ("127.0.0.1", 2))
    assert conn.state is State.CLOSING
    assert sock.peer_read() == b"banner\n" and conn.state is State.CLOSED


# -- Envoy's other FilterChainMatch fields (proxy/network/chain_match.py) ---------------------------


def accepted_through(p, payload=b"", **accept):
    """Chain index for a connection whose listener filters read `payload` first, or None."""
    before = len(p.net.opened)
    conn, sock = p.accept(**accept)
    if payload:
        sock.peer_send(payload)
        p.run()
    if len(p.net.opened) == before:
        return None
    return p.net.opened[-1].remote_address[1] - 9000


def test_destination_prefix_ranges_longest_first():
    p = chains(None, {"prefix_ranges": ["127.0.0.0/8"]}, {"prefix_ranges": ["127.0.0.1/32"]})
    assert chosen(p) == 2  # the listener's local address 127.0.0.1


def test_transport_protocol_and_application_protocols_come_from_listener_filters():
    cfg = tcp_config(
        chains=[
            {"filters": [{"tcp_proxy": {"cluster": "c0"}}]},
            {
                "filter_chain_match": {"transport_protocol": "raw_buffer", "application_protocols": ["http/1.1"]},
                "filters": [{"tcp_proxy": {"cluster": "c1"}}],
            },
            {"filter_chain_match": {"application_protocols": ["h2c"]}, "filters": [{"tcp_proxy": {"cluster": "c2"}}]},
        ],
        listener={"listener_filters": [{"http_inspector": {}}]},
    )
    cfg["clusters"] = [{"name": f"c{i}", "endpoints": [{"host": "127.0.0.1", "port": 9000 + i}]} for i in range(3)]
    p = L4(cfg)
    assert accepted_through(p, b"GET / HTTP/1.1\r\nhost: a\r\n\r\n") == 1
    # Transport protocol comes before application protocols: raw_buffer (chain 1) narrows the
    # candidates to chain 1, whose protocols do not list h2c, and there is no backtracking.
    assert accepted_through(p, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") is None
    assert accepted_through(p, b"\x00not http\r\n") is None
    assert p.counter("listener.tcp_in.no_filter_chain_match") == 2


def test_application_protocols_follow_the_connections_own_order():
    from proxy.network.chain_match import ConnectionFacts, FilterChainMatch, select
    from proxy.network.listener import BuiltFilterChain

    a = BuiltFilterChain(FilterChainMatch(application_protocols=frozenset({"http/1.1"})), (), ())
    b = BuiltFilterChain(FilterChainMatch(application_protocols=frozenset({"h2"})), (), ())
    assert select((a, b), ConnectionFacts(application_protocols=("h2", "http/1.1"))) is b
    assert select((a, b), ConnectionFacts(application_protocols=("http/1.1", "h2"))) is a
    assert select((a, b), ConnectionFacts(application_protocols=("spdy/3",))) is None


def test_source_type_local_or_external_before_source_prefixes():
    p = chains(None, {"source_type": "SAME_IP_OR_LOOPBACK"}, {"source_type": "EXTERNAL", "source_ports": [7]})
    assert chosen(p, remote=("127.0.0.5", 1)) == 1  # loopback
    assert chosen(p, remote=("10.0.0.1", 7)) == 2
    assert chosen(p, remote=("10.0.0.1", 8)) is None  # EXTERNAL picked, its port fails
    q = chains(None, {"source_type": "SAME_IP_OR_LOOPBACK"})
    assert chosen(q, remote=("10.0.0.1", 8)) == 0  # external: the ANY chain


def test_source_ports_exact_then_none():
    p = chains(None, {"source_ports": [40000, 40001]})
    assert chosen(p, remote=("10.0.0.1", 40001)) == 1
    assert chosen(p, remote=("10.0.0.1", 40002)) == 0


def test_direct_source_is_the_tcp_peer_and_source_is_what_proxy_protocol_named():
    cfg = tcp_config(
        chains=[
            {"filters": [{"tcp_proxy": {"cluster": "c0"}}]},
            {
                "filter_chain_match": {"direct_source_prefix_ranges": ["10.0.0.0/8"]},
                "filters": [{"tcp_proxy": {"cluster": "c1"}}],
            },
            {
                "filter_chain_match": {
                    "direct_source_prefix_ranges": ["10.0.0.0/8"],
                    "source_prefix_ranges": ["192.0.2.0/24"],
                },
                "filters": [{"tcp_proxy": {"cluster": "c2"}}],
            },
        ],
        listener={"listener_filters": [{"proxy_protocol": {}}]},
    )
    cfg["clusters"] = [{"name": f"c{i}", "endpoints": [{"host": "127.0.0.1", "port": 9000 + i}]} for i in range(3)]
    p = L4(cfg)
    header = b"PROXY TCP4 192.0.2.7 127.0.0.1 5555 10000\r\n"
    assert accepted_through(p, header, remote=("10.1.1.1", 1)) == 2
    assert accepted_through(p, header.replace(b"192.0.2.7", b"198.51.100.1"), remote=("10.1.1.1", 1)) == 1
    assert accepted_through(p, header, remote=("172.16.0.1", 1)) == 0


def test_the_default_filter_chain_takes_what_no_chain_matches():
    cfg = tcp_config(
        chains=[{"filter_chain_match": {"destination_port": 1}, "filters": [{"tcp_proxy": {"cluster": "c0"}}]}],
        listener={"default_filter_chain": {"filters": [{"tcp_proxy": {"cluster": "c1"}}]}},
    )
    cfg["clusters"] = [{"name": f"c{i}", "endpoints": [{"host": "127.0.0.1", "port": 9000 + i}]} for i in range(2)]
    p = L4(cfg)
    assert chosen(p, local_port=1) == 0
    assert chosen(p, local_port=2) == 1
    assert p.counter("listener.tcp_in.no_filter_chain_match") == 0


def test_chains_overlapping_in_every_criterion_are_refused_and_differing_in_one_are_not():
    base = {"server_names": ["a.test"], "application_protocols": ["h2", "http/1.1"]}
    for other, clash in (
        ({"server_names": ["a.test"], "application_protocols": ["h2"]}, True),
        ({"server_names": ["a.test"], "application_protocols": ["h2"], "source_ports": [5]}, False),
        ({"server_names": ["a.test"], "application_protocols": ["h2"], "transport_protocol": "tls"}, False),
    ):
        cfg = tcp_config(
            chains=[{"filter_chain_match": m, "filters": [{"tcp_proxy": {"cluster": "echo"}}]} for m in (base, other)]
        )
        if clash:
            with pytest.raises(BuildError):
                build(bootstrap(cfg))
        else:
            build(bootstrap(cfg))
