"""What a request forwarded by the proxy must mean, given what the client sent and the HTTP
connection manager's configuration (the documented rewrites, each cited):

- the target is sent in origin-form (RFC 9112 3.2.1); an absolute-form target's authority
  replaces Host (RFC 9112 3.2.2) and its path and query are what is forwarded (empty path: "/");
- with path normalisation configured (Envoy's HCM `normalize_path`, `merge_slashes`), both sides
  are compared after RFC 3986 5.2.4 dot-segment removal (and slash merging);
- hop-by-hop fields go (RFC 9110 7.6.1: Connection, the fields it names, Keep-Alive,
  Proxy-Connection, TE, Transfer-Encoding, Upgrade), and so do the fields that only frame or route
  the message on one hop (Host, which becomes the authority; Content-Length; Expect, answered by the
  proxy: fuzz.targets.reference.meaning_fields);
- each header_mutation filter of the chain removes its request_headers_to_remove, then appends its
  request_headers_to_add, in chain order (bootstrap.proto HeaderMutation);
- Envoy's `headers_with_underscores_action: DROP_HEADER` drops fields whose name has "_".
Field order across names, and how values of one name are split over lines (RFC 9110 5.3, HTTP/2
cookie crumbs RFC 9113 8.2.3), carry no meaning.
"""

import re

from ..targets.reference import meaning_fields
from .record import Message

_SCHEME = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*://")


class Model:
    """The rewrites of one HCM configuration that change what is forwarded."""

    def __init__(self, config) -> None:
        self.mutations = []
        for name, make in zip(getattr(config, "filter_names", ()), getattr(config, "filter_makers", ())):
            if name == "header_mutation":
                mutation = make(None).config
                self.mutations.append((mutation.request_remove, mutation.request_add))
        self.normalize = bool(getattr(config, "normalize_path", False))
        self.merge_slashes = bool(getattr(config, "merge_slashes", False))
        action = getattr(config, "headers_with_underscores_action", None)
        self.drop_underscores = str(getattr(action, "name", action)).upper() in ("DROP_HEADER", "2")
        escaped = getattr(config, "path_with_escaped_slashes_action", None)
        # Unescaping %2F / %5C is a rewrite this model does not follow: targets are not compared then.
        self.unknown_path_rewrite = escaped not in (None, 0, 1, "KEEP_UNCHANGED", "IMPLEMENTATION_SPECIFIC_DEFAULT") \
            and str(getattr(escaped, "name", escaped)).upper() not in ("KEEP_UNCHANGED", "IMPLEMENTATION_SPECIFIC_DEFAULT")


NO_REWRITES = Model(None)


def split_target(target: bytes) -> tuple[bytes, bytes | None]:
    """(origin-form target, authority of an absolute-form target or None)."""
    m = _SCHEME.match(target)
    if m is None:
        return target, None
    rest = target[m.end():]
    cut = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
    path = rest[cut:]
    authority = rest[:cut].rpartition(b"@")[2]  # userinfo is never forwarded (RFC 9110 4.2.4)
    return (path if path.startswith(b"/") else b"/" + path), authority


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
    if model.merge_slashes:
        path, q, query = target.partition(b"?")
        target = re.sub(rb"/{2,}", b"/", path) + q + query
    return remove_dot_segments(target) if model.normalize and target.startswith(b"/") else target


def expected_request(sent: Message, model: Model) -> Message | None:
    """The request the upstream should see (method, target, authority, headers), or None when the
    model does not know the rewrite."""
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
    return Message(method=sent.method, target=target,
                   authority=absolute_authority if absolute_authority is not None else sent.authority,
                   headers=headers)


def fields_meaning(fields) -> dict:
    """name -> tuple of list elements, for the fields that carry meaning (see the module doc)."""
    out: dict[bytes, list] = {}
    for n, v in meaning_fields([(bytes(n).lower(), bytes(v)) for n, v in fields]):
        if n == b"te":
            continue
        sep = b";" if n == b"cookie" else b","
        out.setdefault(n, []).extend(e.strip() for e in v.split(sep))
    return {n: tuple(v) for n, v in out.items()}
