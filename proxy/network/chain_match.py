"""Filter chain matching: Envoy's FilterChainMatch fields and order of precedence.

A connection's facts (what the socket and the listener filters found) are compared with every
chain's match in nine steps, in this order (Envoy's listener_components.proto):

  1. destination port            chains naming the port; else chains naming none
  2. destination IP              chains whose longest prefix_ranges entry containing the IP is the
                                 longest of all; else chains with no prefix_ranges
  3. server name (SNI)           chains listing the exact name; else the longest matching wildcard
                                 (`*.b.example.com`, then `*.example.com`, then `*.com`); else
                                 chains listing no names
  4. transport protocol          chains naming it (`tls`, `raw_buffer`); else chains naming none
  5. application protocols       for the connection's protocols in its own order, the first that
                                 some chain lists: those chains; else chains listing none
  6. directly connected source   as 2, on the TCP peer's IP (differs from the source only when
                                 the PROXY protocol named another one)
  7. source type                 SAME_IP_OR_LOOPBACK when the source is a loopback address or the
                                 destination IP, else EXTERNAL: chains of that type; else ANY
  8. source IP                   as 2, on source_prefix_ranges
  9. source port                 chains listing the port; else chains listing none

At each step only the most specific chains go on, and there is no backtracking: a chain that
named the right port but the wrong server name does not give way to a chain naming no port.
Build rejects two chains that match the same connections (`clashes`), so at most one is left.
"""

import functools
import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ANY, SAME_IP_OR_LOOPBACK, EXTERNAL = 0, 1, 2  # FilterChainMatch.ConnectionSourceType


@dataclass(frozen=True)
class FilterChainMatch:
    destination_port: int | None = None
    prefix_ranges: tuple = ()  # ipaddress networks (destination IP)
    server_names: frozenset = frozenset()  # lower case; "*.suffix" entries are wildcards
    transport_protocol: str = ""
    application_protocols: frozenset = frozenset()
    direct_source_networks: tuple = ()
    source_type: int = ANY
    source_networks: tuple = ()
    source_ports: frozenset = frozenset()

    def dimensions(self):
        """The value set of each criterion, an unset one as {None} (clashes compares them)."""
        return (
            {self.destination_port},
            set(self.prefix_ranges) or {None},
            set(self.server_names) or {None},
            {self.transport_protocol or None},
            set(self.application_protocols) or {None},
            set(self.direct_source_networks) or {None},
            {self.source_type},
            set(self.source_networks) or {None},
            set(self.source_ports) or {None},
        )


def clashes(a: FilterChainMatch, b: FilterChainMatch) -> bool:
    """Two matches that some connection satisfies equally well: every criterion shares a value."""
    return all(x & y for x, y in zip(a.dimensions(), b.dimensions()))


def _network_or_none(text: str, where: str):
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def match_of(msg, network=_network_or_none) -> FilterChainMatch:
    """The FilterChainMatch a config message (bootstrap.proto FilterChainMatch) describes.
    `network(text, where)` reads one CIDR, `where` naming its field and index: the builder's raises
    on a bad one; by default a bad one is left out (the semantic check reports it on its own)."""

    def networks(field):
        read = (network(text, f"{field}[{i}]") for i, text in enumerate(getattr(msg, field)))
        return tuple(dict.fromkeys(n for n in read if n is not None))

    return FilterChainMatch(
        destination_port=msg.destination_port if msg.HasField("destination_port") else None,
        prefix_ranges=networks("prefix_ranges"),
        server_names=frozenset(n.lower() for n in msg.server_names),
        transport_protocol=msg.transport_protocol,
        application_protocols=frozenset(msg.application_protocols),
        direct_source_networks=networks("direct_source_prefix_ranges"),
        source_type=msg.source_type,
        source_networks=networks("source_prefix_ranges"),
        source_ports=frozenset(msg.source_ports),
    )


@dataclass(frozen=True)
class ConnectionFacts:
    destination_ip: IPAddress | None = None
    destination_port: int | None = None
    server_name: str = ""
    transport_protocol: str = ""
    application_protocols: tuple = ()
    direct_source_ip: IPAddress | None = None
    source_ip: IPAddress | None = None
    source_port: int | None = None


def parse_ip(host):
    """An ip_address from a socket address' host part, or None if it is not an IP."""
    try:
        return _parse_ip(host)
    except TypeError:  # unhashable: not an address either
        return None


@functools.lru_cache(maxsize=4096)  # per connection, of a few peer and listener addresses
def _parse_ip(host):
    try:
        return ipaddress.ip_address(host)
    except (ValueError, TypeError):
        return None


def facts_of(conn) -> ConnectionFacts:
    """What a connection's socket and listener filters found."""
    local, remote = conn.local_address or (None, None), conn.remote_address or (None, None)
    direct = conn.direct_remote_address or (None, None)
    return ConnectionFacts(
        destination_ip=parse_ip(local[0]),
        destination_port=local[1],
        server_name=(conn.server_name or "").lower(),
        transport_protocol=conn.transport_protocol,
        application_protocols=tuple(conn.application_protocols),
        direct_source_ip=parse_ip(direct[0]),
        source_ip=parse_ip(remote[0]),
        source_port=remote[1],
    )


def _exact_or_unset(chains, attr, value, unset):
    named = [c for c in chains if getattr(c.match, attr) == value] if value is not None else []
    return named or [c for c in chains if getattr(c.match, attr) == unset]


def _longest_prefix(chains, attr, ip):
    best_len, best = -1, []
    if ip is not None:
        for c in chains:
            lengths = [n.prefixlen for n in getattr(c.match, attr) if ip.version == n.version and ip in n]
            if lengths:
                longest = max(lengths)
                if longest > best_len:
                    best_len, best = longest, [c]
                elif longest == best_len:
                    best.append(c)
    return best or [c for c in chains if not getattr(c.match, attr)]


def _wildcards(server_name: str):
    labels = server_name.split(".")
    for i in range(1, len(labels)):
        yield "*." + ".".join(labels[i:])


def _server_name(chains, name):
    if name:
        for candidate in (name, *_wildcards(name)):
            named = [c for c in chains if candidate in c.match.server_names]
            if named:
                return named
    return [c for c in chains if not c.match.server_names]


def _member_or_unset(chains, attr, values):
    for value in values:
        named = [c for c in chains if value in getattr(c.match, attr)]
        if named:
            return named
    return [c for c in chains if not getattr(c.match, attr)]


def source_type_of(facts: ConnectionFacts) -> int:
    ip = facts.source_ip
    local = ip is not None and (ip.is_loopback or ip == facts.destination_ip)
    return SAME_IP_OR_LOOPBACK if local else EXTERNAL


def select(chains, facts: ConnectionFacts):
    """The most specific chain for the connection, or None (see the module docstring)."""
    c = _exact_or_unset(chains, "destination_port", facts.destination_port, None)
    c = _longest_prefix(c, "prefix_ranges", facts.destination_ip)
    c = _server_name(c, facts.server_name)
    c = _exact_or_unset(c, "transport_protocol", facts.transport_protocol or None, "")
    c = _member_or_unset(c, "application_protocols", facts.application_protocols)
    c = _longest_prefix(c, "direct_source_networks", facts.direct_source_ip)
    c = _exact_or_unset(c, "source_type", source_type_of(facts), ANY)
    c = _longest_prefix(c, "source_networks", facts.source_ip)
    c = _member_or_unset(c, "source_ports", (facts.source_port,) if facts.source_port else ())
    return c[0] if c else None
