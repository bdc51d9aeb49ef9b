"""The connection manager's path options (Envoy's normalize_path, merge_slashes and
path_with_escaped_slashes_action), applied to the path of every request before filters and routing;
the result is also the path sent upstream. The query is never touched.

    options = PathOptions(normalize=True, merge_slashes=True, escaped_slashes="UNESCAPE_AND_REDIRECT")
    outcome = apply_path_options(b"/a/%2e%2e//b%2Fc?q", options)   # PathOutcome(action="redirect", path=b"/b/c?q")

The codecs have already refused targets outside RFC 3986 (headers.target_problem), so the input is
"/" followed by pchar and "/" with well-formed %XX, and every outcome's path is one too.
Order, as Envoy documents it: escaped slashes first, then RFC 3986 normalisation, then merging.
"""

import re
from dataclasses import dataclass

ESCAPED_SLASH = re.compile(rb"%(?:2[fF]|5[cC])")
_PCT = re.compile(rb"%([0-9a-fA-F]{2})")
_UNRESERVED = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
_SLASHES = re.compile(rb"//+")


@dataclass(frozen=True)
class PathOptions:
    normalize: bool = False
    merge_slashes: bool = False
    escaped_slashes: str = "KEEP_UNCHANGED"  # | REJECT_REQUEST | UNESCAPE_AND_REDIRECT | UNESCAPE_AND_FORWARD


@dataclass(frozen=True)
class PathOutcome:
    action: str  # "forward" | "reject" (400) | "redirect" (307 to `path`)
    path: bytes


def _decode_unreserved(path: bytes) -> bytes:
    """RFC 3986 6.2.2.2: a percent-encoded unreserved character means that character."""

    def one(m):
        c = int(m.group(1), 16)
        return bytes([c]) if c in _UNRESERVED else m.group(0)

    return _PCT.sub(one, path)


def remove_dot_segments(path: bytes) -> bytes:
    """RFC 3986 5.2.4 for an absolute path: "." segments dropped, ".." removes the one before it;
    never above the root; a trailing "." or ".." leaves a trailing "/"."""
    out: list[bytes] = []
    segments = path.split(b"/")[1:]
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == b"..":
            if out:
                out.pop()
        elif seg != b".":
            out.append(seg)
            continue
        if last:
            out.append(b"")
    return b"/" + b"/".join(out)


def apply_path_options(target: bytes, options: PathOptions) -> PathOutcome:
    if not target.startswith(b"/"):
        return PathOutcome("forward", target)  # "*" (OPTIONS)
    path, question, query = target.partition(b"?")
    redirect = False
    if options.escaped_slashes != "KEEP_UNCHANGED" and ESCAPED_SLASH.search(path):
        if options.escaped_slashes == "REJECT_REQUEST":
            return PathOutcome("reject", target)
        # %5C becomes "/" too: a raw backslash is no RFC 3986 path character, and an http URL
        # parser (WHATWG, Chromium's canonicaliser under Envoy's normalisation) reads it as "/".
        path = ESCAPED_SLASH.sub(b"/", path)
        redirect = options.escaped_slashes == "UNESCAPE_AND_REDIRECT"
    if options.normalize:
        path = remove_dot_segments(_decode_unreserved(path))
    if options.merge_slashes:
        path = _SLASHES.sub(b"/", path)
    return PathOutcome("redirect" if redirect else "forward", path + question + query)
