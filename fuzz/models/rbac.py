"""RBAC, network and HTTP, as Envoy documents it: a policy engine over Permission/Principal trees.

The engine works on Envoy's tree shape (envoy/config/rbac/v3/rbac.proto: Permission, Principal),
so a schema that grows and/or/not trees needs only a new converter. Our schema's flat policies are
converted by `from_network` / `from_http` (the conversion rules are bootstrap.proto's comments).

Nodes are tuples, (kind, argument):
  ("any", True)                          Permission.any / Principal.any: matches everything
  ("and", (node, ...))                   Permission.and_rules / Principal.and_ids: all must match
  ("or", (node, ...))                    Permission.or_rules / Principal.or_ids: one must match
  ("not", node)                          Permission.not_rule / Principal.not_id: negation
  ("destination_port", port)             Permission.destination_port
  ("direct_remote_ip", network)          Principal.direct_remote_ip: a CIDR block of the
                                         downstream's physical peer address (core.v3.CidrRange)
  ("header", HeaderMatcher message)      Permission.header / Principal.header ("Only available for
                                         HTTP request"; on a connection it never matches)
  ("url_path_prefix", prefix)            Permission.url_path with a prefix PathMatcher: "the URL path
                                         without the query and fragment string"
  ("authenticated", StringMatcher|None)  Principal.authenticated: "The name of the principal. If set,
                                         The URI SAN or DNS SAN in that order is used from the
                                         certificate, otherwise the subject field is used. If unset,
                                         it applies to any user that is authenticated." Ours
                                         (bootstrap.proto Authenticated): each URI SAN, then each DNS
                                         SAN, then the subject; any match counts
"""

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from fuzz.targets import route_reference

if TYPE_CHECKING:
    from proxy.tls.info import PeerCertificate

ALLOW, DENY = 0, 1  # RBAC.Action (our RbacAction has the same numbering)
ANY = ("any", True)


@dataclass(frozen=True)
class Policy:
    name: str
    permissions: tuple  # OR'ed ("Each permission is matched with OR semantics")
    principals: tuple  # OR'ed ("Each principal is matched with OR semantics")


@dataclass(frozen=True)
class Engine:
    action: int
    policies: tuple  # evaluated "in lexicographic order of the policy name"


@dataclass(frozen=True)
class Subject:
    """What the engine sees: the connection's addresses and, for HTTP, the request."""

    source_ip: str
    destination_port: int = 0
    request: route_reference.Request | None = None
    peer: "PeerCertificate | None" = None  # the verified client certificate, if any


@dataclass(frozen=True)
class Verdict:
    allowed: bool  # whether the traffic goes on (always True in shadow mode)
    engine_allowed: bool  # the engine's result, enforced or not
    policy: str | None  # the first matching policy in name order, if any
    counters: tuple  # (counter suffix, increment): "allowed"/"denied"/"shadow_allowed"/"shadow_denied"


# ---------------------------------------------------------------------------------------------
# Matching


@lru_cache(maxsize=4096)
def cidr(text: str):
    """core.v3.CidrRange from our "address/prefix_len" text: the address's low bits beyond the prefix
    length are ignored, as Envoy's CidrRange does (a range names a network, not one host)."""
    return ipaddress.ip_network(text, strict=False)


def in_network(address: str, network) -> bool:
    """Whether `address` lies in `network`: the first prefix_len bits agree, same family only."""
    addr = ipaddress.ip_address(address)
    if addr.version != network.version:
        return False
    bits = network.max_prefixlen
    shift = bits - network.prefixlen
    return (int(addr) >> shift) == (int(network.network_address) >> shift)


def url_path(path: str) -> str:
    return path.split("?", 1)[0].split("#", 1)[0]


def matches(node, subject: Subject) -> bool:
    kind, arg = node
    if kind == "any":
        return True
    if kind == "and":
        return all(matches(n, subject) for n in arg)
    if kind == "or":
        return any(matches(n, subject) for n in arg)
    if kind == "not":
        return not matches(arg, subject)
    if kind == "destination_port":
        return subject.destination_port == arg
    if kind == "direct_remote_ip":
        return in_network(subject.source_ip, arg)
    if kind == "header":
        return subject.request is not None and route_reference.header_matches(arg, subject.request)
    if kind == "url_path_prefix":
        return subject.request is not None and url_path(subject.request.path).startswith(arg)
    if kind == "authenticated":
        peer = subject.peer
        if peer is None:
            return False
        return arg is None or any(string_matches(arg, name) for name in (*peer.uri_sans, *peer.dns_sans, peer.subject))
    raise ValueError(f"unknown RBAC node {kind!r}")


def string_matches(matcher, value: str) -> bool:
    """envoy/type/matcher/v3/string.proto StringMatcher: exact, prefix, suffix, contains; ignore_case
    "the match is case insensitive"."""
    kind = matcher.WhichOneof("match_pattern")
    want = getattr(matcher, kind)
    if matcher.ignore_case:
        want, value = want.lower(), value.lower()
    if kind == "exact":
        return value == want
    if kind == "prefix":
        return value.startswith(want)
    if kind == "suffix":
        return value.endswith(want)
    return want in value


def policy_matches(policy: Policy, subject: Subject) -> bool:
    """rbac.proto Policy: "matches if and only if at least one of its permissions match the action
    taking place AND at least one of its principals match the downstream"."""
    return any(matches(p, subject) for p in policy.permissions) and any(matches(p, subject) for p in policy.principals)


def evaluate(engine: Engine, subject: Subject) -> tuple:
    """(allowed, first matching policy name). rbac.proto RBAC.action: ALLOW "allows the request if and
    only if there is a policy that matches"; DENY "if and only if there are no policies that match".
    So ALLOW with no policies denies everything (network rbac.proto: rules "If present and empty,
    DENY") and DENY with none allows everything."""
    matched = next((p.name for p in sorted(engine.policies, key=lambda p: p.name) if policy_matches(p, subject)), None)
    if engine.action == ALLOW:
        return matched is not None, matched
    return matched is None, matched


def decide(engine: Engine, shadow: bool, subject: Subject) -> Verdict:
    """The filter's decision and counters. Network and HTTP RBAC filter docs, Statistics: allowed /
    denied count enforced decisions, shadow_allowed / shadow_denied what the shadow rules would do.
    Our `shadow: true` makes the policies shadow rules with no enforced rules (docs/semantics.md):
    everything goes through and only the shadow counters move."""
    ok, policy = evaluate(engine, subject)
    if shadow:
        return Verdict(True, ok, policy, (("shadow_allowed" if ok else "shadow_denied", 1),))
    return Verdict(ok, ok, policy, (("allowed" if ok else "denied", 1),))


# ---------------------------------------------------------------------------------------------
# Converters from our schema (bootstrap.proto: Rbac, RbacPolicy, HttpRbac, HttpRbacPolicy)


def _any_of(nodes):
    nodes = tuple(nodes)
    return ("or", nodes) if nodes else None


def _principals(policy) -> tuple:
    """source_prefixes: any of; principals: any of ("empty: anyone"); both set: both must match."""
    sources = _any_of(("direct_remote_ip", cidr(p)) for p in policy.source_prefixes)
    who = _any_of(_principal(p) for p in getattr(policy, "principals", ()))
    both = tuple(n for n in (sources, who) if n is not None)
    return (("and", both),) if len(both) > 1 else both or (ANY,)


def _principal(principal):
    """Our Principal oneof: authenticated (Envoy's and/or/not trees would join here)."""
    kind = principal.WhichOneof("identifier")
    if kind == "authenticated":
        auth = principal.authenticated
        return ("authenticated", auth.principal_name if auth.HasField("principal_name") else None)
    raise ValueError(f"RBAC model: unknown principal kind {kind!r}")


def _permission(conditions) -> tuple:
    """ "A policy matches when every condition it sets matches; an empty condition matches anything":
    the set conditions AND'ed into one permission, or `any`."""
    conditions = tuple(c for c in conditions if c is not None)
    return (("and", conditions),) if conditions else (ANY,)


_ENGINES: dict = {}


def _memo(convert):
    """Converters run once per configuration message (harnesses keep built configurations alive and
    reuse them); the message is kept with its engine so its id is not reused meanwhile."""

    def converter(config):
        hit = _ENGINES.get((convert, id(config)))
        if hit is None or hit[0] is not config:
            if len(_ENGINES) > 4096:
                _ENGINES.clear()
            hit = _ENGINES[(convert, id(config))] = (config, convert(config))
        return hit[1]

    converter.__doc__ = convert.__doc__
    return converter


@_memo
def from_network(config) -> Engine:
    """Our network Rbac: per policy, destination_ports any of, source_prefixes any of."""
    policies = tuple(
        Policy(
            p.name, _permission([_any_of(("destination_port", port) for port in p.destination_ports)]), _principals(p)
        )
        for p in config.policies
    )
    return Engine(config.action, policies)


@_memo
def from_http(config) -> Engine:
    """Our HttpRbac: per policy, methods any of (a `:method` header exact match), path_prefixes any
    of (url_path prefix), headers all of, source_prefixes any of."""
    policies = []
    for p in config.policies:
        methods = _any_of(("header", _method_matcher(m)) for m in p.methods)
        paths = _any_of(("url_path_prefix", prefix) for prefix in p.path_prefixes)
        headers = [("header", h) for h in p.headers]
        policies.append(Policy(p.name, _permission([methods, paths, *headers]), _principals(p)))
    return Engine(config.action, tuple(policies))


@dataclass(frozen=True)
class _Exact:
    """A HeaderMatcher-shaped exact match, as route_reference.header_matches reads one."""

    name: str
    exact: str

    def WhichOneof(self, _):  # noqa: N802 - protobuf's spelling
        return "exact"


def _method_matcher(method: str) -> _Exact:
    return _Exact(":method", method)


# ---------------------------------------------------------------------------------------------
# Inputs worth trying


def boundary_addresses(prefix_texts) -> tuple:
    """Addresses on the edges of each CIDR range: its first and last address, the first address
    with the bit right after the prefix set (inside: a comparison of prefix_len + 1 bits misses it)
    and with the prefix's last bit flipped (outside: a comparison of prefix_len - 1 bits takes it)."""
    out: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for text in prefix_texts:
        try:
            net = cidr(text)
        except ValueError:
            continue
        first, bits, plen = int(net.network_address), net.max_prefixlen, net.prefixlen
        make = type(net.network_address)
        out.update((net.network_address, net.broadcast_address))
        if plen < bits:
            out.add(make(first | 1 << (bits - plen - 1)))
        if plen > 0:
            out.add(make(first ^ 1 << (bits - plen)))
    return tuple(str(a) for a in sorted(out, key=lambda a: (a.version, int(a))))
