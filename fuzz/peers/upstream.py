"""Upstream server peers: what the proxy sent each upstream, read by the upstream's own parser.

An upstream connection whose first bytes from the proxy are the HTTP/2 preface gets an H2Server
(strict: it enforces the SETTINGS it advertises), any other an H1Server whose h11 reads every
byte the proxy sent (bytes h11 refuses are a finding: peer_h1_request_rejected). Each request
becomes an UpstreamSeen, linked to the client's Exchange by the session's log.
"""

import h2.events

from ..oracles import InvariantViolation
from ..payloads import h2_upstream_read
from .h1_stream import RequestStream, ResponseStream
from .h2_peer import H2Peer, error_name, fields, request_message
from .record import H1, H2, Message, UpstreamSeen


def cluster_of(conn) -> str | None:
    """The cluster that opened `conn` (its connection tracker names it)."""
    for cb in getattr(conn, "_callbacks", ()):
        cluster = getattr(cb, "cluster", None)
        built = getattr(cluster, "built", None)
        if built is not None:
            return built.name
    return None


class Server:
    protocol = H1

    def __init__(self, log, index: int, conn) -> None:
        self.log, self.index, self.conn_ = log, index, conn
        self.sock = conn.io
        self.seen: list[UpstreamSeen] = []
        self.sent_seen = 0
        self.received_seen = 0
        self.end_seen = False  # the upstream's end of stream was fed to its response parser

    def _seen(self, msg: Message, stream: int) -> UpstreamSeen:
        up = UpstreamSeen(
            self.index, cluster_of(self.conn_), tuple(self.conn_.remote_address), self.protocol, stream, msg
        )
        self.seen.append(up)
        return up

    def observe(self, now: int) -> None:
        sock = self.sock
        if len(sock.received) > self.received_seen:
            fresh = bytes(sock.received[self.received_seen :])
            self.received_seen = len(sock.received)
            self.on_received(fresh, now)
        # The close alone (no new bytes) is news too: it ends a body that runs to it (RFC 9112 6.3).
        if len(sock.sent) > self.sent_seen or (sock.inbound_end and not self.end_seen):
            self.end_seen = sock.inbound_end
            self.on_sent(bytes(sock.sent[self.sent_seen :]), now)
            self.sent_seen = len(sock.sent)

    def on_received(self, data: bytes, now: int) -> None:
        raise NotImplementedError

    def on_sent(self, data: bytes, now: int) -> None:
        raise NotImplementedError


class H1Server(Server):
    def __init__(self, log, index: int, conn) -> None:
        super().__init__(log, index, conn)
        self.requests = RequestStream(self._on_request)
        self.responses = ResponseStream(self._on_response)
        self._answered = 0

    def _on_request(self, msg: Message) -> None:
        up = self._seen(msg, len(self.requests.messages))
        self.responses.expect(msg.method)
        self.log.link(up)

    def _on_response(self, msg: Message) -> None:
        if self._answered < len(self.seen):
            self.seen[self._answered].response = msg
        self._answered += 1

    def on_received(self, data: bytes, now: int) -> None:
        self.requests.feed(data, now)
        if self.requests.error is not None:
            raise InvariantViolation(
                "peer_h1_request_rejected",
                f"upstream {self.index}: h11 refused the proxy's request bytes: {self.requests.error}",
            )

    def on_sent(self, data: bytes, now: int) -> None:
        self.responses.feed(data, now, self.sock.inbound_end)


class H2Server(H2Peer, Server):
    """A strict HTTP/2 upstream: its connection is the one the templates and the settle phase answer with."""

    protocol = H2
    client_side = False

    def __init__(self, log, index: int, conn, settings=None) -> None:
        Server.__init__(self, log, index, conn)
        H2Peer.__init__(self, f"upstream {index}", log.now, settings)
        self.by_stream: dict[int, UpstreamSeen] = {}
        self.streams_reset: set[int] = set()
        # The names the payload templates and the settle phase know an upstream's h2 server by
        # (fuzz/payloads.py): whoever reads through them, the bytes pass this peer's checks.
        sock = self.sock
        sock.fuzz_h2_server, sock.fuzz_h2_seen = self.conn, 0
        sock.fuzz_h2_open, sock.fuzz_h2_ended = [], set()
        self.unanswered = sock.fuzz_h2_open
        self.sock.peer_send(self.flush())

    def observe(self, now: int) -> None:
        sock = self.sock
        # What the peer sent came before the proxy's answer to it: raw bytes of the fuzzer's taint
        # the peer before that answer (a GOAWAY for a frame they garbled) is judged.
        self._note_sent()
        h2_upstream_read(sock)  # through this peer's connection: judged and recorded as it reads
        out = self.flush()
        if out:
            sock.peer_send(out)
        self._note_sent()

    def _note_sent(self) -> None:
        sock = self.sock
        if len(sock.sent) > self.sent_seen:
            self.check_sent(bytes(sock.sent[self.sent_seen :]))
            self.sent_seen = len(sock.sent)

    @property
    def unheard(self) -> bool:
        """Frames made now are no response: after raw bytes of the fuzzer's (tainted) the proxy reads
        none of ours as one, after this side closed or was reset the socket drops them, and a
        black-holed upstream (session op upstream_connect_silent) sends nothing at all."""
        return self.tainted or self.sock.is_closed or self.sock.inbound_end or getattr(self.sock, "silent", False)

    def sent_headers(self, sid: int, headers, end_stream: bool) -> None:
        up = self.by_stream.get(sid)
        if up is None or self.unheard:
            return
        pseudo, rest = fields(headers)
        now = self.clock()
        if up.response is None:
            up.response = Message(started_ms=now)
        if b":status" in pseudo:
            status = int(pseudo[b":status"]) if pseudo[b":status"].isdigit() else 0
            if 100 <= status < 200:
                up.response.interim.append(status)
            else:
                up.response.status, up.response.headers = status, rest
        else:
            up.response.trailers = rest
        if end_stream:
            up.response.complete, up.response.ended_ms = True, now

    def sent_reset(self, sid: int) -> None:
        self.streams_reset.add(sid)  # the upstream gave up on the stream: the proxy may fail it

    def sent_data(self, sid: int, data: bytes, end_stream: bool) -> None:
        up = self.by_stream.get(sid)
        if up is not None and up.response is not None and not self.unheard:
            up.response.body += data
            if end_stream:
                up.response.complete, up.response.ended_ms = True, self.clock()

    def on_event(self, ev, now: int) -> None:
        sid: int | None = getattr(ev, "stream_id", None)
        if sid is None:
            return  # a connection-level event
        if isinstance(ev, h2.events.RequestReceived):
            msg = request_message(ev.headers, now)
            opened = self.by_stream[sid] = self._seen(msg, sid)
            self.streams[sid] = msg
            self.log.link(opened)
            return
        up = self.by_stream.get(sid)
        if up is None:
            return
        if isinstance(ev, h2.events.DataReceived):
            up.request.body += ev.data
        elif isinstance(ev, h2.events.TrailersReceived):
            up.request.trailers = fields(ev.headers)[1]
        elif isinstance(ev, h2.events.StreamEnded):
            up.request.complete, up.request.ended_ms = True, now
        elif isinstance(ev, h2.events.StreamReset):
            up.request.reset = error_name(ev.error_code)
