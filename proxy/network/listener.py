"""A listener: picks a connection's filter chain and builds the connection with fresh filters.

Filter chain selection follows Envoy's FilterChainMatch order, for the criteria this proxy
has: destination port, then server name (SNI), then source IP prefix. At each step only the
chains that match *most specifically* go on to the next step, and there is no backtracking:

  1. destination port: chains naming the connection's port; if none does, chains naming no port;
  2. server name: chains listing the exact name; else the longest matching wildcard
     (`*.b.example.com`, then `*.example.com`, then `*.com`); else chains listing no names;
  3. source prefix: chains whose longest prefix containing the source IP is the longest;
     else chains listing no prefixes.

Build rejects two chains that match the same connections, so at most one chain is left.
No chain left: the connection is refused (`listener.<name>.no_filter_chain_match`).
"""

import ipaddress
from dataclasses import dataclass

from .connection import Connection, ConnectionEvent
from .filter import ConnectionCallbacks


@dataclass(frozen=True)
class FilterChainMatch:
    destination_port: int | None = None
    server_names: frozenset = frozenset()   # lower case; "*.suffix" entries are wildcards
    source_networks: tuple = ()             # ipaddress networks

    def keys(self):
        return match_keys(self.destination_port, self.server_names, self.source_networks)


def match_keys(destination_port, server_names, source_networks):
    """Every (port, server name, network) combination a chain match covers: two chains of one
    listener sharing one would be ambiguous. Config validation and build both use this, so a
    configuration that validates also builds."""
    for name in server_names or (None,):
        for net in source_networks or (None,):
            yield (destination_port, name, net)


@dataclass(frozen=True)
class BuiltFilterChain:
    match: FilterChainMatch
    installs: tuple       # install(connection, ctx) per network filter, in order
    filter_names: tuple   # the NetworkFilter oneof field names, for diagnostics


def _wildcards(server_name: str):
    labels = server_name.split(".")
    for i in range(1, len(labels)):
        yield "*." + ".".join(labels[i:])


def select_filter_chain(chains, destination_port, server_name: str, source_ip):
    """The most specific chain matching the connection, or None (see the module docstring)."""
    candidates = [c for c in chains if c.match.destination_port == destination_port]
    if not candidates:
        candidates = [c for c in chains if c.match.destination_port is None]

    name = (server_name or "").lower()
    named = []
    if name:
        named = [c for c in candidates if name in c.match.server_names]
        if not named:
            for wildcard in _wildcards(name):
                named = [c for c in candidates if wildcard in c.match.server_names]
                if named:
                    break
    candidates = named or [c for c in candidates if not c.match.server_names]

    best_len, best = -1, []
    if source_ip is not None:
        for c in candidates:
            lengths = [n.prefixlen for n in c.match.source_networks if source_ip in n]
            if lengths:
                longest = max(lengths)
                if longest > best_len:
                    best_len, best = longest, [c]
                elif longest == best_len:
                    best.append(c)
    candidates = best or [c for c in candidates if not c.match.source_networks]
    return candidates[0] if candidates else None


def parse_ip(host):
    """An ip_address from a socket address' host part, or None if it is not an IP."""
    try:
        return ipaddress.ip_address(host)
    except (ValueError, TypeError):
        return None


def source_in(networks, source_ip) -> bool:
    """An RBAC source condition: no networks matches any source, else the IP must lie in one."""
    return not networks or (source_ip is not None and any(source_ip in n for n in networks))


class _ActiveConnectionGauge(ConnectionCallbacks):
    __slots__ = ("stats", "name")

    def __init__(self, stats, name) -> None:
        self.stats, self.name = stats, name

    def on_event(self, event) -> None:
        if event is not ConnectionEvent.CONNECTED:
            self.stats.gauge_add(self.name, -1)


@dataclass(frozen=True)
class BuiltListener:
    name: str
    address: tuple        # (host, port) to bind
    buffer_limit: int     # per-connection read and write buffer limit
    filter_chains: tuple  # BuiltFilterChain

    def select_filter_chain(self, local_address, remote_address, server_name: str = ""):
        return select_filter_chain(self.filter_chains, local_address[1], server_name, parse_ip(remote_address[0]))

    def create_connection(self, ctx, io, local_address, remote_address, server_name: str = ""):
        """Accept one downstream connection in instance `ctx`: the new Connection, connected,
        with its filters installed and initialized (on_new_connection has reached them), or
        None when no filter chain matches (the transport then closes the socket).

        `io` is the connection's transport (a ConnectionIO); its `conn` attribute, when it has
        one, is set to the new connection before any filter runs. The connection may already be
        closed on return (a filter refused it, e.g. rbac or local_ratelimit)."""
        stats = ctx.stats
        prefix = f"listener.{self.name}."
        stats.inc(prefix + "downstream_cx_total")
        chain = self.select_filter_chain(local_address, remote_address, server_name)
        if chain is None:
            stats.inc(prefix + "no_filter_chain_match")
            return None
        conn = Connection(ctx.dispatcher, io=io, local_address=local_address, remote_address=remote_address,
                          server_name=server_name, buffer_limit=self.buffer_limit)
        if io is not None and hasattr(io, "conn"):
            io.conn = conn
        stats.gauge_add(prefix + "downstream_cx_active", 1)
        conn.add_connection_callbacks(_ActiveConnectionGauge(stats, prefix + "downstream_cx_active"))
        # An accepted socket is already connected (Envoy raises no Connected for server
        # connections): mark it so before any filter runs, so that a filter closing it with
        # FlushWrite from on_new_connection still flushes what it wrote.
        conn.on_connected()
        for install in chain.installs:
            install(conn, ctx)
        conn.initialize_read_filters()
        return conn
