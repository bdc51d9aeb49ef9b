"""Filter chain selection: which of a listener's chains a connection gets.

envoy/config/listener/v3/listener_components.proto, FilterChainMatch: "In order for a filter chain
to be selected, ALL of its criteria must be fulfilled by the incoming connection". "The following
order applies: Destination port. Destination IP address. Server name ... Source IP address. Source
port." "For criteria that allow ranges or wildcards, the most specific value in any of the
configured filter chains that matches the incoming connection is going to be used (e.g. for SNI
www.example.com the most specific match would be www.example.com, then *.example.com, then *.com,
then any filter chain without server_names requirements)." Each step keeps only the chains with the
most specific matching value and there is no going back: no chain left means no match (the
connection is refused).

Our FilterChainMatch has destination_port, server_names and source_prefix_ranges; a chain that sets
none of them matches every connection.
"""

from . import rbac

KNOWN_FIELDS = {"destination_port", "server_names", "source_prefix_ranges"}


def understood(listener) -> bool:
    """Whether every match field the listener's chains use is one this model knows."""
    return all({f.name for f, _ in chain.filter_chain_match.ListFields()} <= KNOWN_FIELDS
               for chain in listener.filter_chains)


def _by_port(chains, port: int):
    exact = [(i, m) for i, m in chains if m.HasField("destination_port") and m.destination_port == port]
    return exact or [(i, m) for i, m in chains if not m.HasField("destination_port")]


def _wildcard_suffix(pattern: str, name: str) -> int:
    """Length of the suffix a "*.suffix" pattern matches `name` with, or -1."""
    suffix = pattern[1:]   # ".example.com"
    return len(suffix) if name.endswith(suffix) and len(name) > len(suffix) else -1


def _by_server_name(chains, server_name: str):
    name = server_name.lower()
    if name:
        exact = [(i, m) for i, m in chains if name in (n.lower() for n in m.server_names)]
        if exact:
            return exact
        best, kept = -1, []
        for i, m in chains:
            length = max((_wildcard_suffix(n.lower(), name) for n in m.server_names if n.startswith("*.")), default=-1)
            if length > best:
                best, kept = length, [(i, m)]
            elif length == best and length >= 0:
                kept.append((i, m))
        if best >= 0:
            return kept
    return [(i, m) for i, m in chains if not m.server_names]


def _by_source(chains, source_ip: str):
    best, kept = -1, []
    for i, m in chains:
        lengths = [net.prefixlen for net in map(rbac.cidr, m.source_prefix_ranges) if rbac.in_network(source_ip, net)]
        length = max(lengths, default=-1)
        if length > best:
            best, kept = length, [(i, m)]
        elif length == best and length >= 0:
            kept.append((i, m))
    return kept if best >= 0 else [(i, m) for i, m in chains if not m.source_prefix_ranges]


def select(listener, destination_port: int, server_name: str, source_ip: str) -> tuple:
    """The indexes of the chains of `listener` (our Listener message) left after the last step: one
    (the connection's chain), none (refused), or several (an ambiguous configuration, which
    validation is meant to reject)."""
    chains = [(i, chain.filter_chain_match) for i, chain in enumerate(listener.filter_chains)]
    chains = _by_port(chains, destination_port)
    chains = _by_server_name(chains, server_name)
    chains = _by_source(chains, source_ip)
    return tuple(i for i, _ in chains)
