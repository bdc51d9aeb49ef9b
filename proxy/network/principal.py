"""RBAC principals (Envoy's config.rbac.v3.Principal): who the downstream is, for the network and
HTTP rbac filters. A policy's `principals` list matches when any of them does (an empty list:
anyone).

  authenticated   the connection's TLS handshake verified a client certificate (conn.ssl.peer).
                  With principal_name, the StringMatcher is tried on each URI SAN, then each DNS
                  SAN, then the subject (RFC 4514) of that certificate: any match counts (Envoy's
                  "The URI SAN or DNS SAN in that order is used from the certificate, otherwise
                  the subject field is used"). Without it: any authenticated downstream.

A principal is a callable `principal(conn) -> bool`, so kinds that hold other principals (Envoy's
and_ids, or_ids, not_id) compose the same way.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class StringMatcher:
    kind: str  # exact, prefix, suffix, contains
    value: str
    ignore_case: bool = False

    def __call__(self, text: str) -> bool:
        value = self.value
        if self.ignore_case:
            text, value = text.lower(), value.lower()
        if self.kind == "exact":
            return text == value
        if self.kind == "prefix":
            return text.startswith(value)
        if self.kind == "suffix":
            return text.endswith(value)
        return value in text


@dataclass(frozen=True)
class Authenticated:
    name: StringMatcher | None = None  # None: any authenticated peer

    def __call__(self, conn) -> bool:
        peer = conn.ssl.peer if conn is not None and conn.ssl is not None else None
        if peer is None:
            return False
        if self.name is None:
            return True
        return any(self.name(candidate) for candidate in (*peer.uri_sans, *peer.dns_sans, peer.subject))


def string_matcher(msg) -> StringMatcher:
    kind = msg.WhichOneof("match_pattern") or "exact"
    return StringMatcher(kind, getattr(msg, kind), msg.ignore_case)


def build_principal(msg):
    """A Principal message as a callable (see the module docstring)."""
    kind = msg.WhichOneof("identifier")
    if kind == "authenticated":
        auth = msg.authenticated
        return Authenticated(string_matcher(auth.principal_name) if auth.HasField("principal_name") else None)
    raise ValueError(f"principal kind {kind!r} is not supported")


def any_principal(principals, conn) -> bool:
    """A policy's principals condition: empty matches anyone, else any principal must match."""
    return not principals or any(p(conn) for p in principals)
