"""rbac: network role-based access control, decided once per connection, when it is Connected.

A policy matches a connection when each condition it sets matches: the source IP lies in
one of `source_prefixes`, the destination port is one of `destination_ports`, one of
`principals` matches (proxy/network/principal.py; an empty condition matches anything). Action ALLOW: a connection matching some policy is allowed,
the rest denied (no policies: everything denied). Action DENY: a connection matching some
policy is denied, the rest allowed.

The decision is made in on_new_connection when the connection is already Connected (plaintext),
else when Connected is raised (after the TLS handshake: the peer's certificate is known then),
which comes before any byte can reach the filters. The filters after this one are not held back
meanwhile (tcp_proxy connects its upstream, as in Envoy, whose network RBAC decides on the first
data): holding them would also hold the handshake, since tcp_proxy keeps the connection from
reading until its upstream is connected. Denied: the connection is closed NoFlush before any
data reaches a filter after this one; nothing is forwarded. Shadow mode enforces nothing
and only counts what it would have done.

Counters `rbac.` (and `rbac.<stat_prefix>.`): allowed, denied, shadow_allowed, shadow_denied.
stream_info["rbac"] records the decision and stream_info["rbac_policy"] the matching policy.
"""

from dataclasses import dataclass

from ...build_context import BuildContext, parse_cidr
from ..connection import CloseType, ConnectionEvent
from ..filter import CONTINUE, STOP_ITERATION, ConnectionCallbacks, ReadFilter
from ..listener import parse_ip, source_in
from ..principal import any_principal, build_principal
from ..registry import register_network_filter
from ._stats import FilterStats, stat_scopes

ALLOW, DENY = 0, 1  # RbacAction


@dataclass(frozen=True)
class RbacPolicy:
    name: str
    source_networks: tuple  # ipaddress networks; empty: any source
    destination_ports: frozenset  # empty: any port
    principals: tuple = ()  # principal(conn) -> bool; empty: anyone

    def matches(self, source_ip, destination_port, conn=None) -> bool:
        if not source_in(self.source_networks, source_ip):
            return False
        if self.destination_ports and destination_port not in self.destination_ports:
            return False
        return any_principal(self.principals, conn)


@dataclass(frozen=True, eq=False)
class RbacConfig:
    action: int
    policies: tuple
    shadow: bool
    stat_scopes: tuple

    def decide(self, remote_address, local_address, conn=None):
        """(allowed, name of the matching policy or None)."""
        source_ip = parse_ip(remote_address[0]) if remote_address else None
        port = local_address[1] if local_address else None
        matched = next((p.name for p in self.policies if p.matches(source_ip, port, conn)), None)
        allowed = (matched is not None) if self.action == ALLOW else (matched is None)
        return allowed, matched


@register_network_filter("rbac")
def rbac_factory(msg, build: BuildContext):
    policies = []
    for i, p in enumerate(msg.policies):
        networks = tuple(
            parse_cidr(s, f"{build.path}.policies[{i}].source_prefixes[{j}]") for j, s in enumerate(p.source_prefixes)
        )
        policies.append(
            RbacPolicy(
                p.name, networks, frozenset(p.destination_ports), tuple(build_principal(x) for x in p.principals)
            )
        )
    if msg.action not in (ALLOW, DENY):
        raise build.error(f"unknown action {msg.action}", "action")
    config = RbacConfig(
        action=msg.action, policies=tuple(policies), shadow=msg.shadow, stat_scopes=stat_scopes("rbac", msg.stat_prefix)
    )

    def install(connection, ctx):
        connection.add_read_filter(RbacFilter(config, ctx))

    return install


class RbacFilter(ReadFilter, ConnectionCallbacks):
    def __init__(self, config: RbacConfig, ctx) -> None:
        self.config = config
        self.stats = FilterStats(ctx.stats, config.stat_scopes)
        self.waiting = False

    def on_new_connection(self):
        conn = self.callbacks.connection
        if conn.connected:
            return self._decide(conn)
        self.waiting = True  # the TLS handshake is running: decide when it is done
        conn.add_connection_callbacks(self)
        return CONTINUE

    def on_event(self, event) -> None:
        if not self.waiting:
            return
        self.waiting = False
        conn = self.callbacks.connection
        conn.remove_connection_callbacks(self)
        if event is ConnectionEvent.CONNECTED:
            self._decide(conn)

    def on_data(self, data, end_stream):
        if self.waiting:  # data before Connected breaks the transport socket contract: decide now
            self.waiting = False
            return self._decide(self.callbacks.connection)
        return CONTINUE

    def _decide(self, conn):
        allowed, policy = self.config.decide(conn.remote_address, conn.local_address, conn)
        if policy is not None:
            conn.stream_info["rbac_policy"] = policy
        if self.config.shadow:
            self.stats.inc("shadow_allowed" if allowed else "shadow_denied")
            conn.stream_info["rbac"] = "shadow_allowed" if allowed else "shadow_denied"
            return CONTINUE
        if allowed:
            self.stats.inc("allowed")
            conn.stream_info["rbac"] = "allowed"
            return CONTINUE
        self.stats.inc("denied")
        conn.stream_info["rbac"] = "denied"
        conn.close(CloseType.NO_FLUSH)
        return STOP_ITERATION
