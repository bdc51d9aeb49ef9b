"""What a request forwarded by the proxy must mean, given what the client sent and the HTTP
connection manager's configuration (the documented rewrites, each cited):

- the target is sent in origin-form (RFC 9112 3.2.1); an absolute-form target's authority
  replaces Host (RFC 9112 3.2.2) and its path and query are what is forwarded (empty path: "/");
- with path normalisation configured (Envoy's HCM `normalize_path`: RFC 3986 6.2.2.2 percent-encoding
  and 6.2.2.3 dot-segment normalisation; `merge_slashes`; in that order), the forwarded path must be in
  normal form and equal the client's once normalised; with `path_with_escaped_slashes_action:
  REJECT_REQUEST` a path with %2F or %5C is never forwarded; the unescaping actions are rewrites
  this model does not follow (the target is then not compared);
- hop-by-hop fields go (RFC 9110 7.6.1: Connection, the fields it names, Keep-Alive,
  Proxy-Connection, TE, Transfer-Encoding, Upgrade), and so do the fields that only frame or route
  the message on one hop (Host, which becomes the authority; Content-Length; Expect, answered by the
  proxy: fuzz.targets.reference.meaning_fields);
- each header_mutation filter of the chain removes its request_headers_to_remove, then appends its
  request_headers_to_add, in chain order (bootstrap.proto HeaderMutation);
- Envoy's `headers_with_underscores_action`: DROP_HEADER drops fields whose name has "_",
  REJECT_REQUEST never forwards such a request.
A response the upstream sent reaches the client with the same status, fields (modulo the same
hop-by-hop rules and the response mutations, applied last filter first) and body.
Field order across names, and how values of one name are split over lines (RFC 9110 5.3, HTTP/2
cookie crumbs RFC 9113 8.2.3), carry no meaning.
"""

import re
from dataclasses import dataclass

from ..field_lists import list_members
from ..targets.reference import meaning_fields
from .record import Message

_SCHEME = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*://")


class Model:
    """The rewrites of one HCM configuration that change what is forwarded."""

    def __init__(self, config) -> None:
        # (names removed, fields added) of each header_mutation filter (proxy.http.filters.header_mutation)
        self.mutations: list[tuple[tuple, tuple]] = []
        self.response_mutations: list[
            tuple[tuple, tuple]
        ] = []  # in encoding order: the last filter of the chain first (Envoy)
        for name, make in zip(getattr(config, "filter_names", ()), getattr(config, "filter_makers", ())):
            if name == "header_mutation":
                mutation = make(None).config
                self.mutations.append((mutation.request_remove, mutation.request_add))
                self.response_mutations.insert(0, (mutation.response_remove, mutation.response_add))
        paths = getattr(config, "path_options", None)
        self.normalize = bool(getattr(paths, "normalize", False))
        self.merge_slashes = bool(getattr(paths, "merge_slashes", False))
        escaped = getattr(paths, "escaped_slashes", "KEEP_UNCHANGED")
        self.reject_escaped_slashes = escaped == "REJECT_REQUEST"
        self.unknown_path_rewrite = escaped not in ("KEEP_UNCHANGED", "REJECT_REQUEST")
        underscores = getattr(config, "underscores", "ALLOW")
        self.drop_underscores = underscores == "DROP_HEADER"
        self.reject_underscores = underscores == "REJECT_REQUEST"


NO_REWRITES = Model(None)


def split_target(target: bytes) -> tuple[bytes, bytes | None]:
    """(origin-form target, authority of an absolute-form target or None)."""
    m = _SCHEME.match(target)
    if m is None:
        return target, None
    rest = target[m.end() :]
    cut = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
    path = rest[cut:]
    authority = rest[:cut].rpartition(b"@")[2]  # userinfo is never forwarded (RFC 9110 4.2.4)
    return (path if path.startswith(b"/") else b"/" + path), authority


_PCT = re.compile(rb"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")


def normal_escapes(path: bytes) -> bytes:
    """RFC 3986 6.2.2.2: percent-encoded unreserved characters decoded (the case of the other escapes
    is left alone: 6.2.2.1's upper case is a "should" Envoy does not apply)."""

    def one(m):
        c = int(m.group(1), 16)
        return bytes([c]) if c in _UNRESERVED else m.group(0)

    return _PCT.sub(one, path)


def remove_dot_segments(path: bytes) -> bytes:
    """RFC 3986 5.2.4 on the path (the query is kept as it is)."""
    path, q, query = path.partition(b"?")
    out: list[bytes] = []
    for seg in path.split(b"/")[1:]:
        if seg == b"..":
            if out:
                out.pop()
        elif seg != b".":
            out.append(seg)
    trailing = path.endswith((b"/.", b"/..")) and out != []
    return b"/" + b"/".join(out) + (b"/" if trailing else b"") + (q + query)


def normal_target(target: bytes, model: Model) -> bytes:
    """The target after the configured normalisation, in Envoy's order (the query untouched)."""
    if not target.startswith(b"/"):
        return target
    path, q, query = target.partition(b"?")
    if model.normalize:
        path = remove_dot_segments(normal_escapes(path))
    if model.merge_slashes:
        path = re.sub(rb"/{2,}", b"/", path)
    return path + q + query


@dataclass(frozen=True)
class ExpectedRequest:
    """What the upstream should see of a client's request."""

    method: bytes
    target: bytes | None  # None when the model does not know the path rewrite
    authority: bytes
    headers: list  # [(name, value)] bytes


def expected_request(sent: Message, model: Model) -> ExpectedRequest:
    """The request the upstream should see (method, target, authority, headers); its target is
    None when the model does not know the rewrite."""
    target: bytes | None
    target, absolute_authority = split_target(sent.target)
    if model.unknown_path_rewrite:
        target = None
    elif model.normalize or model.merge_slashes:
        target = normal_target(target, model)
    headers = list(sent.headers)
    for remove, add in model.mutations:
        headers = [(n, v) for n, v in headers if n.lower() not in remove] + list(add)
    if model.drop_underscores:
        headers = [(n, v) for n, v in headers if b"_" not in n]
    return ExpectedRequest(
        method=sent.method,
        target=target,
        authority=absolute_authority if absolute_authority is not None else sent.authority,
        headers=headers,
    )


def expected_response_fields(upstream_fields, model: Model) -> list:
    """The fields a client should see in a response the upstream sent with `upstream_fields`: the
    header_mutation filters' response removals and additions, in encoding order."""
    fields = list(upstream_fields)
    for remove, add in model.response_mutations:
        fields = [(n, v) for n, v in fields if n.lower() not in remove] + list(add)
    return fields


def fields_meaning(fields) -> dict:
    """name -> tuple of list elements, for the fields that carry meaning (see the module doc)."""
    out: dict[bytes, list] = {}
    for n, v in meaning_fields([(bytes(n).lower(), bytes(v)) for n, v in fields]):
        if n == b"te":
            continue
        if n == b"cookie":  # crumbs; an empty one names no cookie (RFC 6265 4.2.1, RFC 9113 8.2.3)
            crumbs = [c.strip() for c in v.split(b";") if c.strip()]
            if crumbs:
                out.setdefault(n, []).extend(crumbs)
        else:
            out.setdefault(n, []).extend(list_members(v, quoted_strings=False))
    return {n: tuple(v) for n, v in out.items()}
