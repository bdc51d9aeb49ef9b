"""The per-request record: what each peer of a session saw, built by the peers' own parsers.

One `Exchange` per request a downstream client's independent parser read from the bytes the client
sent (HTTP/1.1: h11; HTTP/2: the client's own h2 connection). Bytes no parser understood are not
judged: they make no Exchange, and the connection is marked `understood = False` from there on.

Fields (virtual times are the session dispatcher's `now_ms()` at the end of the action in which
the peer saw the bytes):

    Exchange.id          the `x-fuzz-id` value the templated clients add ("<conn>-<n>"), or
                         "c<conn>.<n>" for a request sent without one (raw bytes, smuggling shapes)
    Exchange.downstream  index of the downstream connection (Session.downstream)
    Exchange.protocol    "HTTP/1.1" or "HTTP/2";  Exchange.stream: h2 stream id, or h1 ordinal 1, 2, ...
    Exchange.request     Message: what the client sent (method, target, authority, scheme, headers,
                         body, trailers, complete = the client sent the whole request, times)
    Exchange.upstreams   list of UpstreamSeen, one per upstream request linked to it (a retry or a
                         duplicate shows as two): connection index, cluster, endpoint, protocol,
                         stream, `request` (the Message exactly as the upstream's parser read it)
                         and `response` (the Message the upstream peer answered, if parsed)
    Exchange.response    Message the client's parser read back (status, interim 1xx statuses,
                         headers, body, trailers, complete), or None
    Exchange.outcome     None while nothing final came back, else one of
                         "response"  a complete response (Exchange.response.complete);
                         "reset"     the stream was reset (HTTP/2 RST_STREAM, or GOAWAY above its id);
                         "closed"    the connection closed before a complete response.
    Exchange.reset_reason / outcome_ms   why / when: an HTTP/2 error code name, "goaway <code>",
                         "client reset" (the client's own RST_STREAM), "connection closed" (the
                         proxy closed it), "client closed" (the client reset its connection)

A request counts as finished (the client finished sending it) when `request.complete`: HTTP/1.1,
h11 read its end of message; HTTP/2, the client sent END_STREAM on it. Exchanges are listed in the
order the clients sent them (Peers.exchanges); upstream requests that no downstream request claims
are in Peers.unlinked (linking: the x-fuzz-id header; without one, the oldest unlinked id-less
client request with the same method, target and authority as the forwarding model expects them).
"""

from dataclasses import dataclass, field

H1 = "HTTP/1.1"
H2 = "HTTP/2"
ID_HEADER = b"x-fuzz-id"


@dataclass
class Message:
    """One request or response as a peer's parser read it. Header names lowercase, pseudo-headers
    out of `headers` (they are the fields above it); `headers` keeps order and repeats."""

    method: bytes = b""
    version: bytes = b""  # HTTP/1.x requests: the request line's version, "1.0" or "1.1"
    target: bytes = b""
    authority: bytes = b""
    scheme: bytes = b""
    status: int = 0
    interim: list = field(default_factory=list)  # 1xx statuses before the final response
    headers: list = field(default_factory=list)  # [(name, value)] bytes
    body: bytearray = field(default_factory=bytearray)
    trailers: list = field(default_factory=list)
    complete: bool = False
    reset: str = ""  # HTTP/2: the sender reset the stream (error code name)
    started_ms: int | None = None  # head seen
    final_ms: int | None = None  # HTTP/1.1 responses: the final (non-1xx) head seen
    ended_ms: int | None = None  # end of message seen
    # HTTP/1.1 requests: the last time its head, body bytes or end reached the proxy (with all the
    # client sent before them); framing bytes alone do not move it (fuzz/peers/downstream.py).
    # HTTP/2 requests: a time by which the proxy had read the frame that ended it.
    read_ms: int | None = None
    # HTTP/1.x requests: the bytes its head took on the wire (request line, fields as sent, the empty
    # line; empty lines before the request line too), for limits counted on the head.
    head_bytes: int | None = None

    @property
    def final_head_ms(self) -> int | None:
        """When the final head was seen: HTTP/1.1's started_ms may be a 100 Continue's."""
        return self.final_ms if self.final_ms is not None else self.started_ms

    def header(self, name: bytes):
        """The values of `name` joined with ',' (RFC 9110 5.3), or None."""
        values = [v for n, v in self.headers if n == name]
        return b",".join(values) if values else None


@dataclass
class UpstreamSeen:
    """One upstream's view of a forwarded request."""

    conn: int  # index in Session.network.opened
    cluster: str | None
    endpoint: tuple  # (host, port) the proxy connected to
    protocol: str
    stream: int
    request: Message
    response: Message | None = None


@dataclass
class Exchange:
    id: str
    downstream: int
    protocol: str
    stream: int
    request: Message
    upstreams: list = field(default_factory=list)
    response: Message | None = None
    outcome: str | None = None
    reset_reason: str = ""
    outcome_ms: int | None = None

    @property
    def finished_sending(self) -> bool:
        return self.request.complete

    def end(self, outcome: str, now_ms: int, reason: str = "") -> None:
        """Record the outcome the client saw; the first one stands."""
        if self.outcome is None:
            self.outcome, self.reset_reason, self.outcome_ms = outcome, reason, now_ms
