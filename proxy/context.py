"""Per-instance runtime state, separate from the immutable built configuration.

A built configuration (listeners, filter factories, clusters) is made once and can be
reused by many server instances, for example one per fuzz input. Everything that
changes while the proxy runs lives in a ServerContext, made fresh per instance.
"""

import random as _random
from dataclasses import dataclass, field

from .stats import Stats


@dataclass
class ServerContext:
    dispatcher: object
    # Opens upstream connections: `network.connect(host, port, buffer_limit) -> Connection`.
    network: object
    stats: Stats = field(default_factory=Stats)
    random: _random.Random = field(default_factory=lambda: _random.Random(0))
    # The cluster manager (proxy.upstream), attached when the configuration is instantiated.
    cluster_manager: object = None
    # State shared by all connections of one filter factory (a listener's token bucket),
    # keyed by the factory object; made lazily with shared_state(key, make).
    shared: dict = field(default_factory=dict)
    # Opens an access-log sink for a spec ("stdout" or a path). None: the real ones. In-memory
    # drivers (fuzzers, sessions) set it so nothing reaches the terminal or the disk.
    open_access_log: object = None
    # Draining (Envoy's drain manager): the server stopped accepting and asks what serves
    # connections to wind down. Connections register a callback while open (HTTP connection
    # managers: GOAWAY / `connection: close`); start_drain() calls each once.
    draining: bool = False
    drain_callbacks: set = field(default_factory=set)

    def start_drain(self) -> None:
        if self.draining:
            return
        self.draining = True
        for callback in list(self.drain_callbacks):
            callback()

    def shared_state(self, key, make):
        if key not in self.shared:
            self.shared[key] = make()
        return self.shared[key]
