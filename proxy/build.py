"""Stage 1 of a proxy's life: a validated Bootstrap becomes an immutable BuiltConfig, once.

    built = build(bootstrap)                          # once per configuration
    ctx = instantiate(built, dispatcher, network)     # fresh per server instance / fuzz input
    conn = built.listeners[0].create_connection(ctx, io, local, remote)

A BuiltConfig holds only immutable values (frozen dataclasses, tuples, frozensets, read-only
mappings, and the install functions of registered network filters, which close over frozen
configs): a fuzzer caches it across inputs without state leaking between runs. Everything
that changes while the proxy runs (stats, timers, token buckets, load-balancer positions,
open-connection counts) lives in the ServerContext that `instantiate` makes.

`build` expects a configuration that passed proxy/config validation; what it cannot build
(a filter type this build does not register, a malformed CIDR range, an unknown cluster,
two filter chains with the same match, TLS material that does not load) raises BuildError naming
the field path.
"""

import random
from dataclasses import dataclass
from types import MappingProxyType

from . import extensions  # noqa: F401  (registers every built-in filter before any is looked up)
from .build_context import BuildContext, BuildError, parse_cidr
from .context import ServerContext
from .network.connection import DEFAULT_BUFFER_LIMIT
from .network.chain_match import FilterChainMatch, clashes, match_of
from .network.listener import DEFAULT_LISTENER_FILTERS_TIMEOUT_MS, BuiltFilterChain, BuiltListener
from .network.listener_filter import listener_filter_factory
from .network.registry import network_filter_factory
from .tls.context import TlsConfigError, client_config, server_config
from .upstream.cluster import BuiltCluster, ClusterManager


@dataclass(frozen=True)
class BuiltConfig:
    listeners: tuple  # BuiltListener, in configuration order
    clusters: MappingProxyType[str, BuiltCluster]
    admin_address: tuple | None  # (host, port) or None
    source: bytes  # the Bootstrap it was built from, serialized (for /config_dump)

    def listener(self, name: str) -> BuiltListener:
        for listener in self.listeners:
            if listener.name == name:
                return listener
        raise KeyError(f"no listener named {name!r}")


HTTP_ALPN = {0: "http/1.1", 1: "h2"}  # Cluster.Protocol -> what its HTTP pool offers by ALPN


def build(bootstrap) -> BuiltConfig:
    """Build a validated `proxyfuzz.config.Bootstrap` message. Raises BuildError."""
    by_name: dict[str, BuiltCluster] = {}
    for i, msg in enumerate(bootstrap.clusters):
        if msg.name in by_name:
            raise BuildError(f"clusters[{i}].name", f"duplicate cluster name {msg.name!r}")
        tls = _tls(msg, "tls_context", f"clusters[{i}].tls_context", server_side=False)
        http_tls = tls
        if tls is not None and not msg.tls_context.common_tls_context.alpn_protocols:
            http_tls = client_config(msg.tls_context, default_alpn=(HTTP_ALPN[msg.protocol],))
        by_name[msg.name] = BuiltCluster.from_config(msg, tls=tls, http_tls=http_tls)
    clusters = MappingProxyType(by_name)
    names = set()
    listeners = []
    for i, msg in enumerate(bootstrap.listeners):
        if msg.name in names:
            raise BuildError(f"listeners[{i}].name", f"duplicate listener name {msg.name!r}")
        names.add(msg.name)
        listeners.append(_build_listener(msg, f"listeners[{i}]", clusters))
    admin = None
    if bootstrap.HasField("admin"):
        admin = (bootstrap.admin.address.host, bootstrap.admin.address.port)
    return BuiltConfig(
        listeners=tuple(listeners),
        clusters=clusters,
        admin_address=admin,
        source=bootstrap.SerializeToString(deterministic=True),
    )


def instantiate(built: BuiltConfig, dispatcher, network, *, seed: int = 0) -> ServerContext:
    """A fresh ServerContext for one server instance: its own stats, seeded random, clusters."""
    ctx = ServerContext(dispatcher=dispatcher, network=network, random=random.Random(seed))
    ctx.cluster_manager = ClusterManager(ctx, built.clusters)
    return ctx


def _build_listener(msg, path: str, clusters) -> BuiltListener:
    chains: list[BuiltFilterChain] = []
    for j, chain_msg in enumerate(msg.filter_chains):
        chain_path = f"{path}.filter_chains[{j}]"
        match = _build_match(chain_msg.filter_chain_match, f"{chain_path}.filter_chain_match")
        for other in chains:
            if clashes(match, other.match):
                raise BuildError(
                    f"{chain_path}.filter_chain_match",
                    f"matches the same connections as {path}.{other.name} (two filter chains with the same match)",
                )
        chains.append(_build_chain(chain_msg, match, f"filter_chains[{j}]", path, msg.name, clusters))
    default = None
    if msg.HasField("default_filter_chain"):
        default = _build_chain(
            msg.default_filter_chain, FilterChainMatch(), "default_filter_chain", path, msg.name, clusters
        )
    makers = []
    for k, lf in enumerate(msg.listener_filters):
        kind = lf.WhichOneof("filter")
        lf_path = f"{path}.listener_filters[{k}]"
        factory = _registered(listener_filter_factory, kind, lf_path, "listener filter")
        makers.append(
            factory(
                getattr(lf, kind), BuildContext(clusters=clusters, listener_name=msg.name, path=f"{lf_path}.{kind}")
            )
        )
    limit = (
        msg.per_connection_buffer_limit_bytes
        if msg.HasField("per_connection_buffer_limit_bytes")
        else DEFAULT_BUFFER_LIMIT
    )
    timeout = (
        msg.listener_filters_timeout_ms
        if msg.HasField("listener_filters_timeout_ms")
        else DEFAULT_LISTENER_FILTERS_TIMEOUT_MS
    )
    return BuiltListener(
        name=msg.name,
        address=(msg.address.host, msg.address.port),
        buffer_limit=limit,
        filter_chains=tuple(chains),
        listener_filters=tuple(makers),
        listener_filters_timeout_ms=timeout,
        continue_on_listener_filters_timeout=msg.continue_on_listener_filters_timeout,
        default_filter_chain=default,
    )


def _build_chain(chain_msg, match, name: str, listener_path: str, listener_name: str, clusters) -> BuiltFilterChain:
    chain_path = f"{listener_path}.{name}"
    installs, filter_names = [], []
    for k, filter_msg in enumerate(chain_msg.filters):
        kind = filter_msg.WhichOneof("filter")
        filter_path = f"{chain_path}.filters[{k}]"
        factory = _registered(network_filter_factory, kind, filter_path, "network filter")
        install = factory(
            getattr(filter_msg, kind),
            BuildContext(clusters=clusters, listener_name=listener_name, path=f"{filter_path}.{kind}"),
        )
        if not callable(install):
            raise TypeError(f"network filter factory {kind!r} returned {install!r}, not an install function")
        installs.append(install)
        filter_names.append(kind)
    tls = _tls(chain_msg, "tls_context", f"{chain_path}.tls_context", server_side=True)
    return BuiltFilterChain(match=match, installs=tuple(installs), filter_names=tuple(filter_names), name=name, tls=tls)


def _registered(lookup, kind, path: str, what: str):
    """The factory registered for a filter oneof member `kind` (None: unset), or BuildError."""
    if kind is None:
        raise BuildError(path, f"no {what} type is set")
    try:
        return lookup(kind)
    except KeyError:
        raise BuildError(f"{path}.{kind}", f"no {what} is registered as {kind!r} in this build") from None


def _tls(msg, field: str, path: str, server_side: bool):
    """The built TLS context of `msg.field`, or None when it is unset."""
    if not msg.HasField(field):
        return None
    try:
        return (server_config if server_side else client_config)(getattr(msg, field))
    except TlsConfigError as exc:
        raise BuildError(f"{path}.{exc.field}", exc.message) from None


def _build_match(msg, path: str) -> FilterChainMatch:
    return match_of(msg, lambda text, where: parse_cidr(text, f"{path}.{where}"))
