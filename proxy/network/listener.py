"""A listener: runs its listener filters on an accepted connection, picks the connection's filter
chain, and gives the connection the chain's transport socket and fresh filters.

  accept -> listener filters (proxy/network/listener_filter.py), when the listener has any
         -> chain matching (proxy/network/chain_match.py: Envoy's fields and precedence), else
            the default filter chain, else the connection is closed
            (`listener.<name>.no_filter_chain_match`)
         -> the chain's transport socket (raw_buffer, or TLS: proxy/tls/transport.py)
         -> its network filters, installed and initialized (on_new_connection), then Connected:
            at once for raw_buffer (before any filter, as Envoy raises none for an accepted
            socket), after the handshake for TLS
"""

from dataclasses import dataclass

from . import chain_match
from .chain_match import FilterChainMatch, parse_ip  # noqa: F401  (re-exported)
from .connection import Connection, ConnectionEvent
from .filter import ConnectionCallbacks
from .listener_filter import ListenerFilterStage
from ..tls.transport import TlsTransportSocket


@dataclass(frozen=True)
class BuiltFilterChain:
    match: FilterChainMatch
    installs: tuple  # install(connection, ctx) per network filter, in order
    filter_names: tuple  # the NetworkFilter oneof field names, for diagnostics
    name: str = ""  # "filter_chains[i]" or "default_filter_chain" (stream_info["filter_chain"])
    tls: object = None  # proxy.tls.context.TlsServerConfig, or None for plaintext


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


DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class BuiltListener:
    name: str
    address: tuple  # (host, port) to bind
    buffer_limit: int  # per-connection read and write buffer limit
    filter_chains: tuple  # BuiltFilterChain
    listener_filters: tuple = ()  # make(ctx) -> a fresh ListenerFilter, in order
    listener_filters_timeout_ms: int = DEFAULT_LISTENER_FILTERS_TIMEOUT_MS
    continue_on_listener_filters_timeout: bool = False
    default_filter_chain: BuiltFilterChain | None = None

    def select_filter_chain(self, local_address, remote_address, server_name: str = ""):
        """The chain for a connection that only has addresses and a server name (no listener
        filter ran), or None."""
        facts = chain_match.ConnectionFacts(
            destination_ip=parse_ip(local_address[0]),
            destination_port=local_address[1],
            server_name=(server_name or "").lower(),
            transport_protocol="raw_buffer",
            direct_source_ip=parse_ip(remote_address[0]),
            source_ip=parse_ip(remote_address[0]),
            source_port=remote_address[1],
        )
        return chain_match.select(self.filter_chains, facts) or self.default_filter_chain

    def chain_for(self, conn):
        """The chain for an accepted connection, from what its socket and listener filters found."""
        return chain_match.select(self.filter_chains, chain_match.facts_of(conn)) or self.default_filter_chain

    def create_connection(self, ctx, io, local_address, remote_address, server_name: str = ""):
        """Accept one downstream connection in instance `ctx`: the new Connection, or None when
        no filter chain matches and no listener filter has to look at it first (the transport
        then closes the socket). `server_name` is a server name already known (tests and
        sessions without TLS); tls_inspector sets the one a ClientHello asks for.

        `io` is the connection's transport (a ConnectionIO); its `conn` attribute, when it has
        one, is set to the new connection before anything runs. The connection may be closed on
        return (a filter refused it, e.g. rbac or local_ratelimit) or later (a listener filter
        refused it, no chain matched after listener filters)."""
        prefix = f"listener.{self.name}."
        ctx.stats.inc(prefix + "downstream_cx_total")
        chain = None
        if not self.listener_filters:
            chain = self.select_filter_chain(local_address, remote_address, server_name)
            if chain is None:
                ctx.stats.inc(prefix + "no_filter_chain_match")
                return None
        conn = Connection(
            ctx.dispatcher,
            io=io,
            local_address=local_address,
            remote_address=remote_address,
            server_name=server_name,
            buffer_limit=self.buffer_limit,
        )
        conn.filter_manager.observer = ctx.filter_observer
        if io is not None and hasattr(io, "conn"):
            io.conn = conn
        if chain is not None:
            conn.transport_protocol = "raw_buffer"
            self._start(conn, chain, ctx)
            return conn
        stage = ListenerFilterStage(
            conn,
            [make(ctx) for make in self.listener_filters],
            ctx.stats,
            prefix,
            self.listener_filters_timeout_ms,
            self.continue_on_listener_filters_timeout,
            lambda conn: self._matched(conn, ctx),
        )
        conn.transport_socket = stage
        stage.start()
        return conn

    def _matched(self, conn, ctx) -> None:
        """The listener filters finished: choose the chain and start it, or close."""
        chain = self.chain_for(conn)
        if chain is None:
            ctx.stats.inc(f"listener.{self.name}.no_filter_chain_match")
            conn.stream_info["filter_chain"] = None
            conn.close()
            return
        self._start(conn, chain, ctx)

    def _start(self, conn, chain: BuiltFilterChain, ctx) -> None:
        stats, gauge = ctx.stats, f"listener.{self.name}.downstream_cx_active"
        stats.gauge_add(gauge, 1)
        conn.add_connection_callbacks(_ActiveConnectionGauge(stats, gauge))
        conn.stream_info["filter_chain"] = chain.name
        if chain.tls is not None:
            conn.transport_socket = TlsTransportSocket(chain.tls, True, stats, f"listener.{self.name}.ssl.")
        else:
            # An accepted socket is already connected (Envoy raises no Connected for server
            # connections): mark it so before any filter runs, so that a filter closing it with
            # FlushWrite from on_new_connection still flushes what it wrote.
            conn.on_connected()
        for install in chain.installs:
            install(conn, ctx)
        conn.initialize_read_filters()
