"""Per-instance runtime state, separate from the immutable built configuration.

A built configuration (listeners, filter factories, clusters) is made once and can be
reused by many server instances, for example one per fuzz input. Everything that
changes while the proxy runs lives in a ServerContext, made fresh per instance.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .event import Dispatcher
from .stats import Stats

if TYPE_CHECKING:  # annotations only: the core never imports the layers above it
    from .network.connection import Connection
    from .upstream.cluster import ClusterManager

T = TypeVar("T")


class Network(Protocol):
    """Opens upstream connections: proxy.network.sim.SimNetwork in memory, the runtime's AsyncioNetwork."""

    def connect(self, host: str, port: int, buffer_limit: int = ...) -> Connection: ...


class AccessLogSink(Protocol):
    """Where access-log records go (proxy.http.access_log: StreamSink, MemorySink, CountingSink)."""

    def write(self, record: dict[str, Any]) -> None: ...


@dataclass
class ServerContext:
    dispatcher: Dispatcher
    # None where a driver opens no upstream connection (a listener filter or HTTP filter alone).
    network: Network | None
    stats: Stats = field(default_factory=Stats)
    random: _random.Random = field(default_factory=lambda: _random.Random(0))
    # The cluster manager (proxy.upstream), attached when the configuration is instantiated.
    cluster_manager: ClusterManager | None = None
    # State shared by all connections of one filter factory (a listener's token bucket),
    # keyed by the factory object; made lazily with shared_state(key, make).
    shared: dict[Hashable, Any] = field(default_factory=dict)
    # Makes a rate limit filter's token bucket: (key, max_tokens, tokens_per_fill,
    # fill_interval_ms) -> an object with try_take(). None: one TokenBucket per instance. Worker
    # processes share theirs (proxy/shared_buckets.py), as Envoy's workers share one per filter.
    token_buckets: Callable[[Hashable, int, int, int], Any] | None = None
    # Opens an access-log sink for a spec ("stdout" or a path). None: the real ones. In-memory
    # drivers (fuzzers, sessions) set it so nothing reaches the terminal or the disk.
    open_access_log: Callable[[str], AccessLogSink] | None = None
    # Draining (Envoy's drain manager): the server stopped accepting and asks what serves
    # connections to wind down. Connections register a callback while open (HTTP connection
    # managers: GOAWAY / `connection: close`); start_drain() calls each once.
    draining: bool = False
    drain_callbacks: set[Callable[[], None]] = field(default_factory=set)
    # Test and fuzzing hook: given to every connection this instance creates as its filter
    # manager's observer (proxy/network/filter_manager.py). Per instance, so two sessions in one
    # process never see each other's connections. None in production.
    filter_observer: Callable[[Any, Any, str], None] | None = None

    def start_drain(self) -> None:
        if self.draining:
            return
        self.draining = True
        for callback in list(self.drain_callbacks):
            callback()

    def shared_state(self, key: Hashable, make: Callable[[], T]) -> T:
        if key not in self.shared:
            self.shared[key] = make()
        return self.shared[key]
