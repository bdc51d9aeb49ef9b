"""Downstream client peers: what each client sent and what came back, as Exchanges.

The protocol is the client's: a connection whose first bytes are the HTTP/2 preface gets an
H2Client (created by the payload templates, which send through it), any other an H1Client that
reads every byte the client sent with h11. Both read everything the proxy sends them.
"""

import h2.events

from ..oracles import InvariantViolation
from ..tls_peer import speaks_tls
from .h1_stream import RequestStream, ResponseStream
from .h2_peer import H2Peer, error_name, fields, request_message
from .h2_wire import PREFACE
from .record import H1, H2, ID_HEADER, Exchange, Message


class Client:
    """The shared part: the session's log, this connection's index, bytes already read."""

    protocol = H1

    def __init__(self, log, index: int, sock) -> None:
        self.log, self.index, self.sock = log, index, sock
        self.exchanges: list[Exchange] = []
        self.sent_seen = 0
        self.received_seen = 0
        self.understood = True

    @property
    def reads_proxy_output(self) -> bool:
        """Whether what this client read is what the proxy wrote as HTTP: not once a harness's own
        write filter dropped some of it (network_filter's write probe marks the socket
        `reads_altered`; that harness judges the write path itself), and not when the client speaks
        clear text to a chain that terminates TLS (it reads only the proxy's TLS records, an alert,
        which tls_session judges: tls_plaintext_on_the_wire). Nothing it read is judged then."""
        if getattr(self.sock, "reads_altered", False):
            return False
        conn = self.sock.conn
        return not (conn is not None and speaks_tls(conn) and not getattr(self.sock, "tls", False))

    def _exchange(self, msg: Message, stream: int) -> Exchange:
        rid = msg.header(ID_HEADER)
        ex = Exchange(
            rid.decode("latin-1") if rid else f"c{self.index}.{stream}", self.index, self.protocol, stream, msg
        )
        self.exchanges.append(ex)
        self.log.add(ex, has_id=rid is not None)
        return ex

    def observe(self, now: int) -> None:
        sock = self.sock
        # A PROXY header the session sent raw is the proxy_protocol filter's, not HTTP: the client's
        # own record starts after it (else its requests are not understood, and a HEAD's answer is
        # framed as a GET's).
        self.sent_seen = max(self.sent_seen, getattr(sock, "raw_sent", 0))
        if len(sock.sent) > self.sent_seen:
            self.on_sent(bytes(sock.sent[self.sent_seen :]), now)
            self.sent_seen = len(sock.sent)
        if len(sock.received) > self.received_seen or sock.peer_saw_end:
            fresh = bytes(sock.received[self.received_seen :])
            self.received_seen = len(sock.received)
            self.on_received(fresh, now)
        if sock.is_closed or sock.peer_saw_end:
            self.on_close(now)
            event = getattr(sock.conn, "close_event", None)
            reason = "client closed" if getattr(event, "name", "") == "REMOTE_CLOSE" else "connection closed"
            for ex in self.exchanges:
                ex.end("closed", now, reason)

    def on_sent(self, data: bytes, now: int) -> None:
        raise NotImplementedError

    def on_received(self, data: bytes, now: int) -> None:
        raise NotImplementedError

    def on_close(self, now: int) -> None:
        """The connection is closed or its end of stream read: what that ends, before the rest ends closed."""


class H1Client(Client):
    def __init__(self, log, index: int, sock) -> None:
        super().__init__(log, index, sock)
        self.requests = RequestStream(self._on_request)
        self.responses = ResponseStream(self._on_response)
        self._answered = 0
        self.eof_seen = False  # fed to the response parser; the other parsers read the same end (judge)

    def _on_request(self, msg: Message) -> None:
        self._exchange(msg, len(self.requests.messages))
        self.responses.expect(msg.method, msg.version)

    def _on_response(self, msg: Message) -> None:
        if self._answered < len(self.exchanges):
            self.exchanges[self._answered].response = msg
        self._answered += 1

    def on_sent(self, data: bytes, now: int) -> None:
        messages = self.requests.messages
        before = (len(messages), _progress(messages[-1]) if messages else None)
        self.requests.feed(data, now)
        if self.requests.error is not None:
            self.understood = False
        # The last request moved through the proxy now (its head, body or end), if the proxy read
        # every byte sent. Framing alone (a chunk-size line, a trailer line not yet ended) is no
        # headers, body or trailers: Envoy's codec raises nothing for it, and nothing resets the
        # stream idle timer. Bytes after a `Connection: close` request are nobody's.
        if messages and not self.sock.inbound and before != (len(messages), _progress(messages[-1])):
            messages[-1].read_ms = now

    def on_close(self, now: int) -> None:
        if not self.eof_seen and self._close_ends_body():
            self.on_received(b"", now)

    def _close_ends_body(self) -> bool:
        """A close ends a body delimited by it when the proxy closed after sending what it had: its
        own close (LOCAL_CLOSE; the close of a FLUSH_WRITE follows the last byte), not the one the
        client's FIN or reset made, not one by Envoy's delayed_close_timeout (a client that stopped
        reading; fuzz/closing.py judges when), and not one that aborted the response (HTTP/1.1 has
        no stream reset: an upstream reset, a route or stream idle timeout after the response
        started close the connection mid-body). Those drop output the proxy had not sent or never
        had: the body stops short, an end a real client cannot tell from the true one, so it is no
        response (the exchange ends closed; fuzz/delivery.py judges a close the client did not cause)."""
        conn = self.sock.conn
        if conn is None or not self.sock.is_closed or not self.responses.reads_until_close():
            return False
        by_proxy = getattr(conn.close_event, "name", "") == "LOCAL_CLOSE"
        return by_proxy and not conn.stream_info.get("delayed_close_timeout") and not _aborted_a_response(conn)

    def on_received(self, data: bytes, now: int) -> None:
        # A close ends a body delimited by it: the simulated socket shows a FIN only after a half
        # close, while a real client reads end of file once the proxy's close follows its last byte.
        ended = self.sock.peer_saw_end or self._close_ends_body()
        eof = ended and not self.eof_seen
        self.eof_seen |= eof
        self.responses.feed(data, now, eof)
        if self.responses.error is not None and self.reads_proxy_output:
            raise InvariantViolation(
                "peer_h1_response_rejected",
                f"client {self.index}: h11 refused the proxy's response bytes: {self.responses.error}",
            )
        for ex in self.exchanges:
            response = ex.response
            if response is not None and response.complete and response.ended_ms is not None:  # set together
                ex.end("response", response.ended_ms)


def _aborted_a_response(conn) -> bool:
    """Whether the HTTP/1 codec serving `conn` reset a stream: its response ends in a close there."""
    for active in conn.filter_manager.read_filters:
        stats = getattr(getattr(active.filter, "codec", None), "stats", None)
        if stats and stats.get("h1_reset_by_owner"):
            return True
    return False


def _progress(msg: Message) -> tuple[int, bool]:
    """How far the proxy could have passed a request on: body bytes, and whether it ended."""
    return len(msg.body), msg.complete


class H2Client(H2Peer, Client):
    """A strict HTTP/2 client: its connection (StrictH2Connection) is the payload templates' h2 client."""

    protocol = H2
    client_side = True

    def __init__(self, log, index: int, sock, settings=None) -> None:
        Client.__init__(self, log, index, sock)
        H2Peer.__init__(self, f"client {index}", log.now, settings)
        self.by_stream: dict[int, Exchange] = {}

    # -- what the client sends (recorded by its connection as it sends) ---------------------------
    def sent_headers(self, sid: int, headers, end_stream: bool) -> None:
        if self.sock.is_closed or self.sock.inbound_end:
            return  # the bytes go nowhere (SimSocket.peer_send drops them): no request was sent
        now = self.clock()
        ex = self.by_stream.get(sid)
        if ex is None:
            ex = self.by_stream[sid] = self._exchange(request_message(headers, now), sid)
        else:
            ex.request.trailers = fields(headers)[1]
        if end_stream:
            ex.request.complete, ex.request.ended_ms = True, now

    def sent_data(self, sid: int, data: bytes, end_stream: bool) -> None:
        if self.sends_desynced or self.sock.is_closed or self.sock.inbound_end:
            return  # after raw bytes of the fuzzer's the proxy reads no frame of ours as one, and a closed socket drops them
        ex = self.by_stream.get(sid)
        if ex is not None:
            ex.request.body += data
            if end_stream:
                ex.request.complete, ex.request.ended_ms = True, self.clock()

    def sent_reset(self, sid: int) -> None:
        ex = self.by_stream.get(sid)
        if ex is not None:
            ex.end("reset", self.clock(), "client reset")

    def on_sent(self, data: bytes, now: int) -> None:
        self.check_sent(data)  # the requests were recorded as they were made
        if self.sock.inbound or self.sends_desynced:
            return
        # The proxy read every frame sent, so each request ended so far (END_STREAM) had reached it
        # by now: HTTP/2's bound on when the route timer started, as H1Client's for HTTP/1.1.
        for ex in self.by_stream.values():
            if ex.request.complete and ex.request.read_ms is None:
                ex.request.read_ms = now

    # -- receiving ------------------------------------------------------------------------------
    def on_received(self, data: bytes, now: int) -> None:
        self.receive(data)
        out = self.flush()
        if out:
            self.sock.peer_send(out)

    def on_event(self, ev, now: int) -> None:
        sid: int | None = getattr(ev, "stream_id", None)  # None: a connection-level event
        ex = self.by_stream.get(sid) if sid is not None else None
        if ex is None:
            return
        if isinstance(ev, h2.events.InformationalResponseReceived):
            ex.response = ex.response or Message(started_ms=now)
            ex.response.interim.append(int(dict(fields(ev.headers)[0]).get(b":status", b"0")))
        elif isinstance(ev, h2.events.ResponseReceived):
            pseudo, rest = fields(ev.headers)
            ex.response = ex.response or Message(started_ms=now)
            ex.response.status, ex.response.headers = int(pseudo.get(b":status", b"0")), rest
            self.streams[ev.stream_id] = ex.response
        elif isinstance(ev, h2.events.DataReceived) and ex.response is not None:
            ex.response.body += ev.data
        elif isinstance(ev, h2.events.TrailersReceived) and ex.response is not None:
            ex.response.trailers = fields(ev.headers)[1]
        elif isinstance(ev, h2.events.StreamEnded) and ex.response is not None:
            ex.response.complete, ex.response.ended_ms = True, now
            ex.end("response", now)
        elif isinstance(ev, h2.events.StreamReset):
            ex.end("reset", now, error_name(ev.error_code))

    def on_goaway(self, last: int, code: int, now: int) -> None:
        for sid, ex in self.by_stream.items():
            if sid > last or code:
                ex.end("reset", now, f"goaway {error_name(code)}")


def is_h2(sent: bytes) -> bool:
    return sent.startswith(PREFACE)
