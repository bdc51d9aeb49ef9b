"""IPv6 listeners are IPv6 only (docs/semantics.md, "IPv6 listeners and IPv4 clients"): as Envoy
without `ipv4_compat`, an IPv4 client never reaches one as `::ffff:a.b.c.d`, so RBAC ranges, the
access log and the chain match see every IPv4 client as IPv4. A v4-mapped address that a PROXY
header names stays IPv6: IPv4 source ranges do not match it (Envoy's CidrRange never matches across
address versions)."""

import ipaddress
import socket

from proxy.network.listener import parse_ip, source_in
from proxy.server import bind_listener


def test_an_ipv6_listener_takes_no_ipv4_clients():
    sock = bind_listener(("::1", 0))  # loopback: the option is the listener's, whatever the address
    try:
        assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
    finally:
        sock.close()


def test_a_v4_mapped_source_is_no_ipv4_source():
    mapped = parse_ip("::ffff:10.0.0.7")
    assert not source_in((ipaddress.ip_network("10.0.0.0/8"),), mapped)
    assert source_in((ipaddress.ip_network("::ffff:10.0.0.0/104"),), mapped)
    assert source_in((ipaddress.ip_network("10.0.0.0/8"),), parse_ip("10.0.0.7"))
