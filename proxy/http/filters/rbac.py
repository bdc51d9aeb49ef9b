"""HTTP rbac: allow or deny each request by method, path prefix, headers, source and principal.

A policy matches when every condition it sets matches (methods: any of; path_prefixes: any of,
against the path with its query; headers: all of; source_prefixes: any of, against the
downstream peer's IP (after the PROXY protocol); principals: any of, proxy/network/principal.py). Action ALLOW: a request matching some policy passes, the rest get a 403
(no policies: everything is denied). Action DENY: the reverse. Shadow mode only counts.

Counters `http.rbac.`: allowed, denied, shadow_allowed, shadow_denied. stream_info["rbac_policy"]
names the policy that matched.
"""

from dataclasses import dataclass

from ...build_context import BuildContext, parse_cidr
from ...network.listener import parse_ip, source_in
from ...network.principal import any_principal, build_principal
from ..filter import CONTINUE, STOP_ITERATION, StreamFilter
from ..registry import register_http_filter
from ..route import RouteBuildError, _header_matcher

ALLOW, DENY = 0, 1


@dataclass(frozen=True)
class HttpRbacPolicy:
    name: str
    methods: frozenset  # bytes; empty: any
    path_prefixes: tuple  # bytes; empty: any
    headers: tuple  # HeaderMatcher; all must match
    source_networks: tuple  # ipaddress networks; empty: any
    principals: tuple = ()  # principal(conn) -> bool; empty: anyone

    def matches(self, head, source_ip, conn=None) -> bool:
        if self.methods and head.method not in self.methods:
            return False
        if self.path_prefixes and not any(head.path.startswith(p) for p in self.path_prefixes):
            return False
        if not all(m.matches(head) for m in self.headers):
            return False
        if not source_in(self.source_networks, source_ip):
            return False
        return any_principal(self.principals, conn)


@dataclass(frozen=True, eq=False)
class HttpRbacConfig:
    action: int
    policies: tuple
    shadow: bool

    def decide(self, head, source_ip, conn=None):
        """(allowed, name of the matching policy or None)."""
        matched = next((p.name for p in self.policies if p.matches(head, source_ip, conn)), None)
        allowed = (matched is not None) if self.action == ALLOW else (matched is None)
        return allowed, matched


@register_http_filter("rbac")
def http_rbac_factory(msg, build: BuildContext):
    policies = []
    for i, p in enumerate(msg.policies):
        path = f"policies[{i}]"
        try:
            headers = tuple(_header_matcher(h, f"{path}.headers[{k}]") for k, h in enumerate(p.headers))
        except RouteBuildError as exc:
            raise build.error(exc.message, exc.path) from None
        nets = tuple(
            parse_cidr(c, f"{build.path}.{path}.source_prefixes[{k}]") for k, c in enumerate(p.source_prefixes)
        )
        policies.append(
            HttpRbacPolicy(
                name=p.name,
                methods=frozenset(m.encode() for m in p.methods),
                path_prefixes=tuple(x.encode() for x in p.path_prefixes),
                headers=headers,
                source_networks=nets,
                principals=tuple(build_principal(x) for x in p.principals),
            )
        )
    config = HttpRbacConfig(action=msg.action, policies=tuple(policies), shadow=msg.shadow)
    return lambda ctx: HttpRbacFilter(config, ctx)


class HttpRbacFilter(StreamFilter):
    def __init__(self, config: HttpRbacConfig, ctx) -> None:
        self.config = config
        self.ctx = ctx

    def decode_headers(self, head, end_stream):
        cb = self.decoder_callbacks
        remote = cb.connection.remote_address if cb.connection is not None else None
        source_ip = parse_ip(remote[0]) if remote else None
        allowed, policy = self.config.decide(head, source_ip, cb.connection)
        if policy is not None:
            cb.stream_info["rbac_policy"] = policy
        stats = self.ctx.stats
        if self.config.shadow:
            stats.inc("http.rbac.shadow_allowed" if allowed else "http.rbac.shadow_denied")
            return CONTINUE
        if allowed:
            stats.inc("http.rbac.allowed")
            return CONTINUE
        stats.inc("http.rbac.denied")
        # No response flag: Envoy's %RESPONSE_FLAGS% has none for RBAC (access log docs, "Command
        # Operators"); its denial only sets response code details (docs/semantics.md, RBAC denial).
        cb.send_local_reply(403, b"RBAC: access denied\n")
        return STOP_ITERATION
