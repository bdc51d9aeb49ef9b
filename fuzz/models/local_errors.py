"""The cause each error status the proxy answers on its own needs, as Envoy documents it.

A local reply (no upstream saw the request) whose status no model branch gives (a direct
response, a fault abort, RBAC's 403, no route's 404, the rate limit's 429) is one of the replies the
connection manager, its codecs and the router make for a failure. Each such status has a
documented cause, and the session records whether that cause can have happened:

  status  Envoy's cause                                                   judged from
  400     HTTP/1 codec error (flag DPE: "the downstream request had an     HTTP/1.x: any request (the codec's
          HTTP protocol error"); headers_with_underscores_action           grammar is the h1_server harness's to
          REJECT_REQUEST ("the request is rejected ... with 400")          judge); HTTP/2: a field or trailer
                                                                          name with "_" under REJECT_REQUEST
  408     request_timeout ("not received the complete request ... 408");  a request or stream idle timeout
          stream_idle_timeout (408 before the response starts)            that could have run out by the reply
  413     a filter buffering a whole request over its buffer limit        none: no configured filter buffers
                                                                          one (model_request_body_refused)
  431     max_request_headers_kb ("Requests that exceed this limit will   the head's size as sent (an upper
          receive a 431"), max_headers_count (100); a trailer section     bound) against the limit, its field
          over the codec's limit; an upstream's                           count, trailers, an upstream
          SETTINGS_MAX_HEADER_LIST_SIZE (no flag: docs/semantics.md)      connection opened
  500     a filter buffering a response over its buffer limit             an upstream sent bytes
  501     HTTP/1 "Transfer-Encoding" the codec does not implement; CONNECT  the request's method and codings
          where no upgrade config allows it
  502     an upstream's response the codec cannot use (UPE); ours, no     an upstream sent bytes
          flag: a final head over an HTTP/2 client's
          SETTINGS_MAX_HEADER_LIST_SIZE (docs/semantics.md)
  503     no healthy upstream, connect failure, overflow, upstream reset   a model branch forwards it (the
          (UH, UF, UO, UR, UC: the router's replies for a cluster)         upstream failure itself:
                                                                          model_upstream_failure_unexplained)
  504     route timeout ("the upstream response ... within this time",     a route timeout since the client
          from the whole request; 504 UT); request_timeout_ms once the     ended the request, or request_timeout_ms
          request is whole (ours, docs/semantics.md)                       since it can have begun
  505     HTTP/1 request line with a version the codec does not speak       the request line's version
          (RFC 9110 15.6.6)

Any other 4xx or 5xx status has no local cause here: a model branch must give it.
"""

from typing import Any, NamedTuple

DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000  # HttpConnectionManager.stream_idle_timeout: "defaults to 5 minutes"
DEFAULT_MAX_HEADERS_COUNT = 100  # HttpProtocolOptions.max_headers_count: "the default value is 100"
REJECT_REQUEST = 1  # HttpProtocolOptions.HeadersWithUnderscoresAction; ours defaults to it (bootstrap.proto)


class Facts(NamedTuple):
    """What the session recorded about one request answered locally."""

    protocol: str  # "HTTP/1.1" (any HTTP/1.x) or "HTTP/2": the client's connection
    version: bytes  # HTTP/1.x: the request line's version ("1.0", "1.1", ...)
    method: bytes
    fields: tuple  # ((name, value), ...) bytes: the request's header fields, then its trailers
    head_bytes: int | None  # an upper bound of the head's size as the connection manager counts it
    trailers: bool  # the request ended with a trailer section (its size on the wire is not recorded)
    forwarded: bool  # some model branch forwards it to a cluster
    upstream_opened: bool  # a connection to the hosts of those clusters was opened
    upstream_spoke: bool  # one of those hosts sent bytes
    since_begun: int | None  # ms from the earliest time the proxy can have begun the request to the reply
    since_ended: int | None  # ms from the time the client ended the request to the reply
    hcm: Any  # the HttpConnectionManager message
    route_timeouts: frozenset  # timeout_ms of every route that may forward it (0: none)


def cause(status: int, facts: Facts) -> str | None:
    """The documented cause of a local `status` that the facts admit, or None: "" when the status
    has an entry above but its cause did not happen, None when it has none at all."""
    judge = _CAUSES.get(status)
    return None if judge is None else judge(facts)


def documented(status: int) -> bool:
    return status in _CAUSES


def _bad_request(f: Facts) -> str:
    if f.protocol != "HTTP/2":
        return "the HTTP/1 codec may refuse it"
    if _underscores(f.hcm) == REJECT_REQUEST and any(b"_" in name for name, _ in f.fields):
        return "a field name with '_' under headers_with_underscores_action REJECT_REQUEST"
    return ""


def _underscores(hcm) -> int:
    options = hcm.common_http_protocol_options
    return options.headers_with_underscores_action if options.HasField("headers_with_underscores_action") else 1


def _request_timeout(f: Facts) -> str:
    idle = f.hcm.stream_idle_timeout_ms if f.hcm.HasField("stream_idle_timeout_ms") else DEFAULT_STREAM_IDLE_TIMEOUT_MS
    timers = [t for t in (f.hcm.request_timeout_ms, idle) if t]
    if f.since_begun is None or any(f.since_begun >= t for t in timers):
        return "a request or stream idle timeout ran out"
    return ""


def _headers_too_large(f: Facts) -> str:
    kb = f.hcm.max_request_headers_kb if f.hcm.HasField("max_request_headers_kb") else 60
    if f.head_bytes is None or f.head_bytes >= kb * 1024:
        return "the head may be over max_request_headers_kb"
    if len(f.fields) >= DEFAULT_MAX_HEADERS_COUNT:
        return "more fields than max_headers_count"
    if f.trailers:
        return "the trailer section may be over the codec's limit"
    if f.upstream_opened:
        return "the upstream's SETTINGS_MAX_HEADER_LIST_SIZE may refuse it"
    return ""


def _upstream_answer(f: Facts) -> str:
    return "an upstream sent bytes" if f.upstream_spoke else ""


def _not_implemented(f: Facts) -> str:
    if f.method == b"CONNECT":
        return "CONNECT"
    codings = [v for n, v in f.fields if n.lower() == b"transfer-encoding"]
    if f.protocol != "HTTP/2" and any(v.strip().lower() != b"chunked" for v in codings):
        return "a transfer coding other than chunked"
    return ""


def _upstream_failure(f: Facts) -> str:
    return "an upstream failure (the request is routed to a cluster)" if f.forwarded else ""


def _gateway_timeout(f: Facts) -> str:
    if f.forwarded and (f.since_ended is None or any(t and f.since_ended >= t for t in f.route_timeouts)):
        return "a route timeout ran out"
    whole = f.hcm.request_timeout_ms
    if whole and (f.since_begun is None or f.since_begun >= whole):
        return "request_timeout_ms ran out"
    return ""


def _version_not_supported(f: Facts) -> str:
    return "an HTTP version other than 1.0 and 1.1" if f.protocol != "HTTP/2" and f.version not in _VERSIONS else ""


_VERSIONS = (b"1.0", b"1.1")
_CAUSES = {
    400: _bad_request,
    408: _request_timeout,
    413: lambda f: "",  # model_request_body_refused judges it first
    431: _headers_too_large,
    500: _upstream_answer,
    501: _not_implemented,
    502: _upstream_answer,
    503: _upstream_failure,
    504: _gateway_timeout,
    505: _version_not_supported,
}
