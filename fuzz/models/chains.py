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

All nine of Envoy's criteria, in its order: destination port, destination IP (prefix_ranges),
server name, transport protocol, application protocols, directly connected source IP
(direct_source_prefix_ranges), source type, source IP, source port. For the ones the comment does
not spell out: transport_protocol is an exact string or unset ("raw_buffer - default, used when no
transport protocol is detected"); application_protocols: the connection's protocols are taken in
the order the client gave them and the first one some chain lists decides (Envoy's filter chain
manager walks them so); source_type: SAME_IP_OR_LOOPBACK "Match a connection originating from the
same host" (a loopback source, or the source is the destination address), EXTERNAL "from a
different host", ANY when no chain names the connection's type; source_ports: exact. A chain that
sets none of them matches every connection; with no chain left, the listener's
default_filter_chain takes the connection ("default"), else it is refused.
"""

from . import rbac

_REMEMBERED: dict = {}  # (id(listener), question...) -> (listener, answer): see _remembered
_REMEMBERED_SIZE = 4096

KNOWN_FIELDS = {
    "destination_port",
    "server_names",
    "source_prefix_ranges",
    "prefix_ranges",
    "direct_source_prefix_ranges",
    "transport_protocol",
    "application_protocols",
    "source_type",
    "source_ports",
}


def understood(listener) -> bool:
    """Whether every match field the listener's chains use is one this model knows."""
    return _remembered(
        listener,
        ("understood",),
        lambda: all(
            {f.name for f, _ in chain.filter_chain_match.ListFields()} <= KNOWN_FIELDS
            for chain in listener.filter_chains
        ),
    )


def _by_port(chains, port: int):
    exact = [(i, m) for i, m in chains if m.HasField("destination_port") and m.destination_port == port]
    return exact or [(i, m) for i, m in chains if not m.HasField("destination_port")]


def _wildcard_suffix(pattern: str, name: str) -> int:
    """Length of the suffix a "*.suffix" pattern matches `name` with, or -1."""
    suffix = pattern[1:]  # ".example.com"
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


def _by_prefix(chains, field: str, ip: str | None):
    best, kept = -1, []
    for i, m in chains:
        lengths = [
            net.prefixlen for net in map(rbac.cidr, getattr(m, field)) if ip is not None and rbac.in_network(ip, net)
        ]
        length = max(lengths, default=-1)
        if length > best:
            best, kept = length, [(i, m)]
        elif length == best and length >= 0:
            kept.append((i, m))
    return kept if best >= 0 else [(i, m) for i, m in chains if not getattr(m, field)]


def _by_source(chains, source_ip: str):
    return _by_prefix(chains, "source_prefix_ranges", source_ip)


def _by_transport(chains, transport: str):
    named = [(i, m) for i, m in chains if m.transport_protocol and m.transport_protocol == transport]
    return named or [(i, m) for i, m in chains if not m.transport_protocol]


def _by_application_protocols(chains, protocols):
    for protocol in protocols:
        named = [(i, m) for i, m in chains if protocol in m.application_protocols]
        if named:
            return named
    return [(i, m) for i, m in chains if not m.application_protocols]


def _by_source_type(chains, source_ip, destination_ip):
    import ipaddress

    try:
        local = ipaddress.ip_address(source_ip).is_loopback or source_ip == destination_ip
    except ValueError:
        local = False
    kind = 1 if local else 2  # SAME_IP_OR_LOOPBACK, EXTERNAL
    return [(i, m) for i, m in chains if m.source_type == kind] or [(i, m) for i, m in chains if m.source_type == 0]


def _by_source_port(chains, port):
    return [(i, m) for i, m in chains if port in m.source_ports] or [(i, m) for i, m in chains if not m.source_ports]


def _comparable(ip):
    import ipaddress

    try:
        return str(ipaddress.ip_address(ip))
    except (ValueError, TypeError):
        return None


def select(
    listener,
    destination_port: int,
    server_name: str,
    source_ip: str,
    *,
    destination_ip=None,
    transport: str = "raw_buffer",
    protocols=(),
    direct_source_ip=None,
    source_port=None,
) -> tuple:
    """The indexes of the chains of `listener` (our Listener message) left after the last step: one
    (the connection's chain), none (refused, or see default_chain), or several (an ambiguous
    configuration, which validation is meant to reject). Facts a listener filter did not find keep
    their defaults: raw_buffer, no protocols, the direct source is the source."""
    facts = (destination_port, server_name, source_ip, destination_ip, transport, tuple(protocols))
    return _remembered(
        listener,
        (*facts, direct_source_ip, source_port),
        lambda: _select(
            listener,
            destination_port,
            server_name,
            source_ip,
            destination_ip=destination_ip,
            transport=transport,
            protocols=protocols,
            direct_source_ip=direct_source_ip,
            source_port=source_port,
        ),
    )


def _remembered(listener, question: tuple, answer):
    """answer(), remembered per listener and question: a session asks again for every connection and
    every check of a listener filter's choice, and a built configuration's listener never changes."""
    key = (id(listener), *question)
    hit = _REMEMBERED.get(key)
    if hit is not None and hit[0] is listener:
        return hit[1]
    value = answer()
    if len(_REMEMBERED) >= _REMEMBERED_SIZE:
        _REMEMBERED.clear()
    _REMEMBERED[key] = (listener, value)  # the listener held: its id is not reused while remembered
    return value


def _select(
    listener,
    destination_port: int,
    server_name: str,
    source_ip: str,
    *,
    destination_ip=None,
    transport: str = "raw_buffer",
    protocols=(),
    direct_source_ip=None,
    source_port=None,
) -> tuple:
    """select, computed."""
    source_ip, destination_ip = _comparable(source_ip), _comparable(destination_ip)
    direct = _comparable(direct_source_ip) if direct_source_ip is not None else source_ip
    chains = [(i, chain.filter_chain_match) for i, chain in enumerate(listener.filter_chains)]
    chains = _by_port(chains, destination_port)
    chains = _by_prefix(chains, "prefix_ranges", destination_ip)
    chains = _by_server_name(chains, server_name)
    chains = _by_transport(chains, transport)
    chains = _by_application_protocols(chains, protocols)
    chains = _by_prefix(chains, "direct_source_prefix_ranges", direct)
    chains = _by_source_type(chains, source_ip, destination_ip)
    chains = _by_source(chains, source_ip)
    chains = _by_source_port(chains, source_port)
    return tuple(i for i, _ in chains)


def default_chain(listener, chosen: tuple) -> tuple:
    """What serves the connection: the chosen chain, else "default" when the listener has one."""
    if not chosen and listener.HasField("default_filter_chain"):
        return ("default",)
    return chosen
