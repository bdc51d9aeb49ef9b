"""HTTP/1.1 byte streams read incrementally by h11, as messages with virtual times.

RequestStream reads what a client sends (or what the proxy sends an upstream); ResponseStream reads
responses, told in order which request method each answers (HEAD and CONNECT change the framing).
Both stop at the first bytes h11 refuses: `error` says why, and nothing after it is read. Pipelining
is followed by answering every request inside the parser (h11 needs a response to start the next
cycle); `Connection: close` ends the stream.
"""

import h11

from .record import Message

_ANSWER = h11.Response(status_code=404, headers=[(b"content-length", b"0")])
_END = h11.EndOfMessage()
# The stand-in requests a ResponseStream shows h11 (only the method matters): h11 events are
# immutable, so the common ones are built and validated once, not per response.
_PROBES = {m: h11.Request(method=m, target=b"/", headers=[(b"host", b"x")]) for m in (b"GET", b"HEAD", b"POST")}


class _Stream:
    """What both directions share: bytes in, messages out, the first refusal kept in `error`."""

    conn: h11.Connection
    messages: list[Message]
    error: str | None
    done: bool
    kind = "message"
    fed = 0  # bytes fed so far

    def consumed(self) -> int:
        """Bytes h11 has parsed so far (those fed less those it still holds)."""
        return self.fed - len(self.conn.trailing_data[0])

    def feed(self, data: bytes, now: int, eof: bool = False) -> None:
        if self.error is not None or self.done:
            if data and self.error is None:
                self.error = f"bytes after the last {self.kind}"
            return
        self.fed += len(data)
        self.conn.receive_data(data)
        self._events(now)
        if eof and self.error is None and not self.done:
            # The end of the stream may complete a close-delimited body, or cut a message short:
            # a cut is an ending (the outcome says so), not bytes the parser refuses.
            self.conn.receive_data(b"")
            self._events(now)
            if self.error is not None:
                self.error, self.done = None, True

    def _events(self, now: int) -> None:
        raise NotImplementedError

    def _body(self, ev, now: int) -> bool:
        """Data and EndOfMessage of the current message; True when `ev` ended it."""
        msg = self.messages[-1]
        if isinstance(ev, h11.Data):
            msg.body += ev.data
            return False
        msg.trailers = [(bytes(n), bytes(v)) for n, v in ev.headers]
        msg.complete, msg.ended_ms = True, now
        return True


class RequestStream(_Stream):
    """Requests out of one direction of a connection; `on_message(msg)` is called at each new head."""

    kind = "request"

    def __init__(self, on_message=None) -> None:
        self.conn = h11.Connection(h11.SERVER)
        self.messages: list[Message] = []
        self.error: str | None = None
        self.done = False  # no more requests can follow (close, switch, error)
        self.on_message = on_message
        self._head_from = 0  # where the current request's bytes began (Message.head_bytes)

    def _events(self, now: int) -> None:
        conn = self.conn
        try:
            while True:
                ev = conn.next_event()
                if isinstance(ev, h11.Request):
                    msg = Message(
                        method=bytes(ev.method), version=bytes(ev.http_version), target=bytes(ev.target), started_ms=now
                    )
                    msg.headers = [(bytes(n), bytes(v)) for n, v in ev.headers]
                    msg.authority = msg.header(b"host") or b""
                    msg.head_bytes = self.consumed() - self._head_from
                    self.messages.append(msg)
                    if self.on_message is not None:
                        self.on_message(msg)
                elif isinstance(ev, (h11.Data, h11.EndOfMessage)):
                    if not self._body(ev, now):
                        continue
                    conn.send(_ANSWER)
                    conn.send(_END)
                    if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                        conn.start_next_cycle()
                        self._head_from = self.consumed()
                    else:
                        self.done = True
                        return
                else:  # NEED_DATA, PAUSED, ConnectionClosed
                    if ev is not h11.NEED_DATA:
                        self.done = True
                    return
        except h11.RemoteProtocolError as e:
            self.error = str(e) or type(e).__name__

    @property
    def head_arriving(self) -> bool:
        """Bytes of a request whose head is not whole yet were sent (empty lines before a request line
        do not count, RFC 9112 2.2)."""
        if self.error is not None or self.done or self.conn.their_state is not h11.IDLE:
            return False
        held, _ = self.conn.trailing_data
        return any(c not in b"\r\n" for c in held[:8])


class ResponseStream(_Stream):
    """Responses out of one direction; `expect(method, version)` once per request they answer, in order.
    A response with no request left to answer is read as the answer to an HTTP/1.1 GET.

    A response to an HTTP/1.0 request is refused (`error`) when it carries Transfer-Encoding (RFC 9112
    6.1: "A server MUST NOT send a response containing Transfer-Encoding unless the corresponding
    request indicates HTTP/1.1 (or later minor revisions)"; an HTTP/1.0 client knows no chunked
    coding and reads the chunk lines as body) or comes after a 1xx (RFC 9110 15.2: "A server MUST NOT
    send a 1xx response to an HTTP/1.0 client")."""

    kind = "response"

    def __init__(self, on_message=None) -> None:
        self.conn = h11.Connection(h11.CLIENT)
        self.methods: list[bytes] = []
        self.versions: list[bytes] = []  # of the requests, as methods
        self.messages: list[Message] = []
        self.error: str | None = None
        self.done = False
        self.on_message = on_message
        self._current: Message | None = None
        self._asked = False

    def expect(self, method: bytes, version: bytes = b"1.1") -> None:
        self.methods.append(method)
        self.versions.append(version)

    def reads_until_close(self) -> bool:
        """The response being read has a body delimited by the connection's close (RFC 9112 6.3,
        item 8: no Content-Length, no Transfer-Encoding), as the proxy answers an HTTP/1.0 client."""
        msg = self.messages[-1] if self.messages else None
        if msg is None or msg.complete or self.conn.their_state is not h11.SEND_BODY:
            return False
        return not any(n.lower() in (b"content-length", b"transfer-encoding") for n, _ in msg.headers)

    def _version(self) -> bytes:
        """The HTTP version of the request the response being read answers."""
        at = len(self.messages)
        return self.versions[at] if at < len(self.versions) else b"1.1"

    def _ask(self) -> bool:
        """Tell h11 which request the next response answers; False to wait: no request is known
        yet and no byte is there to read. A client reads a response before it sends its next
        request (pipelining or not), so guessing GET then would frame an answer to HEAD wrongly."""
        if not self._asked:
            known = len(self.methods) > len(self.messages)
            pending, closed = self.conn.trailing_data
            if not (known or pending or closed):
                return False
            method = self.methods[len(self.messages)] if known else b"GET"
            probe = _PROBES.get(method) or h11.Request(method=method, target=b"/", headers=[(b"host", b"x")])
            self.conn.send(probe)
            self.conn.send(_END)
            self._asked = True
        return True

    def _events(self, now: int) -> None:
        conn = self.conn
        try:
            while True:
                if conn.their_state is h11.IDLE or conn.their_state is h11.SEND_RESPONSE:
                    if not self._ask():
                        return
                ev = conn.next_event()
                if isinstance(ev, h11.InformationalResponse):
                    if self._version() == b"1.0":
                        self.error = f"a {ev.status_code} response to an HTTP/1.0 request (RFC 9110 15.2)"
                        self.done = True
                        return
                    if self._current is None:
                        self._current = Message(started_ms=now)
                    self._current.interim.append(ev.status_code)
                elif isinstance(ev, h11.Response):
                    if self._version() == b"1.0" and any(n.lower() == b"transfer-encoding" for n, _ in ev.headers):
                        self.error = "Transfer-Encoding in a response to an HTTP/1.0 request (RFC 9112 6.1)"
                        self.done = True
                        return
                    msg = self._current or Message(started_ms=now)
                    self._current = None
                    msg.status = ev.status_code
                    msg.final_ms = now
                    msg.headers = [(bytes(n), bytes(v)) for n, v in ev.headers]
                    self.messages.append(msg)
                    if self.on_message is not None:
                        self.on_message(msg)
                elif isinstance(ev, (h11.Data, h11.EndOfMessage)):
                    if not self._body(ev, now):
                        continue
                    if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                        conn.start_next_cycle()
                        self._head_from = self.consumed()
                        self._asked = False
                    else:
                        self.done = True
                        if conn.trailing_data[0]:  # as feed() says of bytes that come later
                            self.error = f"bytes after the last {self.kind}"
                        return
                else:
                    if ev is not h11.NEED_DATA:
                        self.done = True
                    return
        except h11.RemoteProtocolError as e:
            self.error = str(e) or type(e).__name__
