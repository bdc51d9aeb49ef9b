"""Chain matching on what the listener filters found, against the reference (fuzz/models/chains.py).

Envoy's FilterChainMatch reads two kinds of source: `direct_source_prefix_ranges` is "the directly
connected source IP address" (the TCP peer, also when the PROXY protocol names another: that is
what the field is for), while `source_prefix_ranges`, `source_ports` and `source_type` read the
source the listener filters left, as `destination_port` and `prefix_ranges` read the destination.
For a connection that passed its listener filters, small listeners whose chains each name one of
those facts (plus a chain naming none), or tie on one address criterion and differ on a later one,
must give the chain the reference picks when it is told the direct peer and the found endpoints
apart. A proxy reading one address where the other is meant picks another chain, which is only
visible when a PROXY header names endpoints other than the socket's, so the listener_filter harness
asks on every connection that passed.
"""

import ipaddress

from proxy.config import schema
from proxy.network import chain_match

from fuzz.models import chains
from fuzz.oracles import InvariantViolation

SAME_IP_OR_LOOPBACK, EXTERNAL = 1, 2  # FilterChainMatch.ConnectionSourceType
_CHECKED: set = set()  # the facts already judged: selection is a pure function of them
_CHECKED_SIZE = 4096


class _Chain:
    __slots__ = ("match",)

    def __init__(self, match) -> None:
        self.match = match


def _host(ip: str) -> str:
    """`ip` as a one-address CIDR (what a chain lists to match exactly that address)."""
    address = ipaddress.ip_address(ip)
    return f"{address}/{address.max_prefixlen}"


def shapes(direct: str, source: tuple, destination: tuple) -> list:
    """Lists of FilterChainMatch fields, one list per listener, each chain naming one fact."""
    out = [
        [{"direct_source_prefix_ranges": [_host(direct)]}, {"source_prefix_ranges": [_host(source[0])]}, {}],
        [{"direct_source_prefix_ranges": [_host(source[0])]}, {}],
        [{"source_prefix_ranges": [_host(direct)]}, {}],
        [{"prefix_ranges": [_host(destination[0])]}, {}],
        [{"source_type": SAME_IP_OR_LOOPBACK}, {"source_type": EXTERNAL}],
    ]
    if 1 <= destination[1] <= 0xFFFF:
        out.append([{"destination_port": destination[1]}, {}])
    if 1 <= source[1] <= 0xFFFF:
        out.append([{"source_ports": [source[1]]}, {}])
    out += _ties(direct, source, destination)
    return out


def _ties(direct: str, source: tuple, destination: tuple) -> list:
    """Two chains equally specific on one address criterion, told apart only by a later one: Envoy
    hands every chain with the most specific match on to the next criterion, so the later one
    decides (either order, as a tie kept by position shows in one of them)."""
    port = source[1] if 1 <= source[1] <= 0xFFFF else None
    out: list = []
    for field, ip in (
        ("prefix_ranges", destination[0]),
        ("direct_source_prefix_ranges", direct),
        ("source_prefix_ranges", source[0]),
    ):
        tie: dict = {field: [_host(ip)]}
        if port is not None:
            pair = [{**tie, "source_ports": [port]}, tie]
        elif field != "source_prefix_ranges":  # source_type comes before source_prefix_ranges
            pair = [{**tie, "source_type": SAME_IP_OR_LOOPBACK}, {**tie, "source_type": EXTERNAL}]
        else:
            continue
        out += [pair, pair[::-1]]
    return out


def _listener(shape) -> schema.Listener:
    listener = schema.Listener()
    for fields in shape:
        match = listener.filter_chains.add().filter_chain_match
        for name, value in fields.items():
            if isinstance(value, list):
                getattr(match, name).extend(value)
            else:
                setattr(match, name, value)
    return listener


def check(conn, direct: str) -> None:
    """`conn` passed its listener filters; `direct` is its TCP peer's address."""
    source, destination = conn.remote_address, conn.local_address
    try:
        ips = [ipaddress.ip_address(a) for a in (direct, source[0], destination[0])]
    except (TypeError, ValueError, IndexError):
        return  # no IP endpoints to match on
    if ips[1].version != ips[2].version:
        return  # not a pair a PROXY header can name
    facts = chain_match.facts_of(conn)
    key = (direct, tuple(source), tuple(destination), facts)
    if key in _CHECKED:
        return
    for shape in shapes(direct, source, destination):
        listener = _listener(shape)
        want = chains.select(
            listener,
            destination[1],
            conn.server_name or "",
            source[0],
            destination_ip=destination[0],
            transport=conn.transport_protocol or "raw_buffer",
            protocols=tuple(conn.application_protocols),
            direct_source_ip=direct,
            source_port=source[1],
        )
        built = [_Chain(chain_match.match_of(c.filter_chain_match)) for c in listener.filter_chains]
        picked = chain_match.select(built, facts)
        got = () if picked is None else (built.index(picked),)
        if got != tuple(want):
            raise InvariantViolation(
                "chain_match_found_facts",
                f"direct peer {direct}, found source {source} and destination {destination}: chains {shape} "
                f"gave chain {list(got)}, Envoy's precedence picks {list(want)}",
                judged=chain_match.select,
                expected=list(want),
                observed=list(got),
            )
    if len(_CHECKED) >= _CHECKED_SIZE:
        _CHECKED.clear()
    _CHECKED.add(key)
