"""The connection manager's path options: what becomes of a request's path before any HTTP filter or
the route table sees it.

envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto:
- normalize_path: "Should paths be normalized according to RFC 3986 before any processing of
  requests by HTTP filters or routing? This affects the upstream :path header as well." (RFC 3986
  6.2.2.2 percent-encoded unreserved characters decoded, 5.2.4 dot segments removed);
- merge_slashes: "Determines if adjacent slashes in the path are merged into one before any
  processing of requests by HTTP filters or routing";
- path_with_escaped_slashes_action (%2F and %5C, either case of the hex digits: RFC 3986 2.1):
  REJECT_REQUEST "Reject client request with the 400 status", UNESCAPE_AND_REDIRECT "Unescape %2F
  and %5C sequences and redirect request to the new path if these sequences were present. Redirect
  occurs after path normalization and merge slashes transformations if they were configured",
  UNESCAPE_AND_FORWARD "Unescape %2F and %5C sequences and forward the request",
  KEEP_UNCHANGED (and IMPLEMENTATION_SPECIFIC_DEFAULT) leave them.
Order: the escaped slashes first, then normalisation, then merging; the query is never touched.
Where this proxy differs (%5C unescapes to "/"), docs/semantics.md says so.
"""

import re

from fuzz.peers.forwarding_model import Model, normal_target

_ESCAPED_SLASH = re.compile(r"%(2f|5c)", re.IGNORECASE)


def apply(hcm, target: str) -> tuple[str, str]:
    """("forward" | "reject" | "redirect", the target after the options) for an HttpConnectionManager
    message and an origin-form target (query included)."""
    if not target.startswith("/"):
        return "forward", target
    path, q, query = target.partition("?")
    action = type(hcm).PathWithEscapedSlashesAction.Name(hcm.path_with_escaped_slashes_action)
    unescaped = action in ("UNESCAPE_AND_REDIRECT", "UNESCAPE_AND_FORWARD") and _ESCAPED_SLASH.search(path)
    if action == "REJECT_REQUEST" and _ESCAPED_SLASH.search(path):
        return "reject", target
    if unescaped:
        path = _ESCAPED_SLASH.sub("/", path)
    if hcm.normalize_path or hcm.merge_slashes:
        model = Model(None)  # no rewrites but the two path options
        model.normalize, model.merge_slashes = hcm.normalize_path, hcm.merge_slashes
        path = normal_target(path.encode("latin-1"), model).decode("latin-1")
    outcome = "redirect" if unescaped and action == "UNESCAPE_AND_REDIRECT" else "forward"
    return outcome, path + q + query
