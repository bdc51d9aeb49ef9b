"""A simulated socket whose far end may speak TLS: a downstream client or an upstream server
(Python's ssl.SSLObject over memory BIOs, certificates from the test PKI, fuzz/test_pki.py).

TlsSocket is a SimSocket (proxy/network/sim.py) and stays a plain one until `start_tls`; then its
peer side works on plaintext: `peer_send(data, end_stream)`, `peer_read(n)`, `sent`, `received`,
`peer_saw_end`, so sessions, peers and oracles drive and judge it like any other. The ciphertext is
`wire_sent` / `wire_received`. Bytes `send_raw` puts on the wire before TLS starts (a PROXY header)
count in `sent` too: they are what the proxy's listener filters read before the plaintext.

Like a real TLS stack it answers the handshake as soon as bytes arrive: `drive()` moves it on (the
session calls it after every action; an upstream socket whose connection got a TLS transport
socket starts TLS as a server there). Application data is read only when the peer reads
(`peer_read(n)` takes up to n wire bytes). Plaintext sent before the handshake is done waits for
it. Ending the stream sends close_notify, then the TCP end of stream.
"""

import functools
import ssl

from proxy.network import sim
from proxy.network.connection import State

from . import test_pki


def client_context(certificate: str = "", alpn: tuple = ()) -> ssl.SSLContext:
    """A client context: no verification (the proxy's certificate is not what is judged here),
    `certificate` "client" / "other-client" / "cn-client" / "" (none), ALPN offered in order. The
    certificate is the test PKI's as this process first read it (fuzz/test_pki.py), as the
    oracles judge it; one context per PKI directory (PROXYFUZZ_PKI may move)."""
    return _client_context(str(test_pki.directory()), certificate, alpn)


@functools.lru_cache(maxsize=None)
def _client_context(pki: str, certificate: str, alpn: tuple) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    if certificate:
        with test_pki.private_copy(f"{certificate}.pem", f"{certificate}.key") as (cert, key):
            ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def server_context(alpn: tuple = ("h2", "http/1.1")) -> ssl.SSLContext:
    """An upstream server context with the test server certificate; it asks for a client
    certificate (optional) and verifies one against the test CA (both as client_context reads them)."""
    return _server_context(str(test_pki.directory()), alpn)


@functools.lru_cache(maxsize=None)
def _server_context(pki: str, alpn: tuple) -> ssl.SSLContext:
    d = test_pki.ensure()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with test_pki.private_copy("server.pem", "server.key") as (cert, key):
        ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(cadata=test_pki.read(d / "ca.pem").decode("ascii"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.num_tickets = 0
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def speaks_tls(conn) -> bool:
    """Whether a connection's transport socket is TLS (the proxy terminates or originates it)."""
    return getattr(getattr(conn, "transport_socket", None), "protocol", "") == "tls"


class TlsSocket(sim.SimSocket):
    def __init__(self, read_size: int = sim.READ_SIZE) -> None:
        super().__init__(read_size)
        self.obj: ssl.SSLObject | None = None  # once TLS started
        self.wire_sent = bytearray()  # ciphertext (and raw bytes) this peer put on the wire
        self.wire_received = bytearray()
        self.raw_sent = 0  # the first bytes of `sent` that send_raw put there: no part of the protocol
        self.handshake_done = False
        self.failed = ""  # why TLS failed at this end, if it did
        self._waiting = bytearray()  # plaintext sent before the handshake completed
        self._waiting_end = False
        self._ended = False
        # Set by a session's connect (fuzz/session.py) for fuzz/tls_session.py's chain judgment:
        # (listener index, local address, remote address, server name passed at accept), and
        # whether that judgment is done or not due (True on a listener without listener filters).
        self.fuzz_connect: tuple[int, tuple[str, int], tuple[str, int], str] | None = None
        self.fuzz_chain_judged = True
        # Set by fuzz/tls_session.start_client for a TLS client: the test PKI certificate it presents
        # ("" for none), and whether tls_downstream_client_auth_not_enforced judged its connection.
        self.fuzz_certificate: str | None = None
        self.fuzz_auth_judged = False
        # Set by a session's connect: the route targets its request templates pick from
        # (fuzz.models.session_oracle.route_targets; fuzz/payloads.py reads them).
        self.fuzz_targets: tuple | None = None
        self.reset_sent = False  # this peer aborted its connection (what it had not read is lost by its doing)
        # A black-holed upstream (session op upstream_connect_silent): TCP is up, and the peer reads
        # what the proxy writes but never sends anything, nor answers a TLS handshake.
        self.silent = False
        # RFC 8446 6.1: the proxy's end of stream over TLS is a close_notify, then the TCP FIN.
        self.close_notify_seen = False
        self.fin_seen = False  # the proxy's TCP end of stream (its write side shut down) was read

    @property
    def tls(self) -> bool:
        return self.obj is not None

    @property
    def unsent(self) -> int:
        """Plaintext the peer sent that waits for its handshake: it has not reached the wire."""
        return len(self._waiting)

    def start_tls(self, context: ssl.SSLContext, server_side: bool, server_name: str | None = None) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        try:
            self.obj = context.wrap_bio(
                self.incoming, self.outgoing, server_side=server_side, server_hostname=server_name or None
            )
        except (UnicodeError, ValueError):  # a name the ssl module will not send ("a..b"): none
            self.obj = context.wrap_bio(self.incoming, self.outgoing, server_side=server_side)
        if not server_side:
            self._step()

    def send_raw(self, data: bytes, protocol: bool = False) -> None:
        """Bytes on the wire as they are (before TLS starts: a PROXY header). `protocol`: they are
        the application protocol's own bytes (no listener filter takes them), not counted in raw_sent."""
        if not protocol:
            self.raw_sent += len(data)
        self.sent += data
        self._wire_send(data, False)

    # -- the peer side ---------------------------------------------------------------------------
    def peer_reset(self) -> None:
        self.reset_sent = True
        super().peer_reset()

    def peer_send(self, data: bytes, end_stream: bool = False) -> None:
        if self.silent:
            return
        if not self.tls:
            self._wire_send_plain(data, end_stream)
            return
        if self._ended or self.is_closed or self.inbound_end:
            return
        self.sent += data
        if not self.handshake_done:
            self._waiting += data
            self._waiting_end |= end_stream
            self.drive()
            return
        self._write(data, end_stream)

    def peer_read(self, max_bytes: int | None = None) -> bytes:
        if self.silent and self.conn is not None and speaks_tls(self.conn):
            self._wire_read(max_bytes)  # a ClientHello taken off the wire, never answered
            return b""
        if not self.tls:
            out = super().peer_read(max_bytes)
            self.wire_received += out
            return out
        before = len(self.received)
        self._absorb(self._wire_read(max_bytes))
        if not self.handshake_done:
            self.drive()
        return bytes(self.received[before:])

    def needs_drive(self) -> bool:
        """Whether drive() has anything to do: a handshake to start or to go on with."""
        if self.silent:
            return False
        if self.obj is None:
            conn = self.conn
            return conn is not None and conn.is_client and speaks_tls(conn)
        return not self.handshake_done and not self.failed

    def drive(self) -> None:
        """Start server TLS on an upstream connection that speaks it; answer what the proxy wrote
        until the handshake is done, fails, or waits for the proxy."""
        conn = self.conn
        if not self.tls and conn is not None and conn.is_client and speaks_tls(conn):
            self.start_tls(server_context(), server_side=True)
        while self.tls and not self.handshake_done and not self.failed:
            wire = self._wire_read(None)
            if wire:
                self.incoming.write(wire)
            progressed = self._step()
            if not wire and not progressed:
                return

    # -- the wire ---------------------------------------------------------------------------------
    def _wire_send_plain(self, data: bytes, end_stream: bool) -> None:
        if not (self.inbound_end or self.is_closed):
            self.wire_sent += data
        super().peer_send(data, end_stream)

    def _wire_send(self, data: bytes, end_stream: bool) -> None:
        if self.inbound_end or self.is_closed:
            return
        sent_before = len(self.sent)
        super().peer_send(data, end_stream)  # SimSocket counts it in `sent`: undo that
        del self.sent[sent_before:]
        self.wire_sent += data

    def _wire_read(self, max_bytes) -> bytes:
        received_before = len(self.received)
        conn = self.conn
        was_open = conn is not None and conn.state is not State.CLOSED
        out = super().peer_read(max_bytes)  # SimSocket counts it in `received`: undo that
        self.fin_seen |= was_open and conn is not None and conn.output_end_stream
        del self.received[received_before:]
        self.wire_received += out
        return out

    # -- TLS ----------------------------------------------------------------------------------------
    def _step(self) -> bool:
        """One handshake attempt; sends what it made. True when bytes went out or it finished."""
        assert self.obj is not None, "TLS not started"
        try:
            self.obj.do_handshake()
            self.handshake_done = True
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as exc:
            self.failed = getattr(exc, "reason", None) or str(exc)
        out = self.outgoing.read()
        if self.handshake_done and (self._waiting or self._waiting_end):
            # Plaintext that waited for the handshake goes out with its last flight, in one write,
            # as a client that has its request ready sends it: the proxy reads the Finished and the
            # first records together and must not leave those records in its TLS buffer.
            waiting, self._waiting = bytes(self._waiting), bytearray()
            self._write(waiting, self._waiting_end, before=out)
            self._absorb(b"")
            return True
        if out:
            self._wire_send(out, False)
        if self.handshake_done:
            self._absorb(b"")
        return bool(out) or self.handshake_done or bool(self.failed)

    def _write(self, data: bytes, end_stream: bool, before: bytes = b"") -> None:
        """Plaintext on the wire as records, after `before` (handshake bytes made first), in one send."""
        assert self.obj is not None, "TLS not started"
        try:
            if data:
                self.obj.write(data)
            if end_stream:
                self._ended = True
                try:
                    self.obj.unwrap()
                except ssl.SSLWantReadError:
                    pass
        except ssl.SSLError as exc:
            self.failed = self.failed or getattr(exc, "reason", None) or str(exc)
        self._wire_send(before + self.outgoing.read(), end_stream)

    def _absorb(self, wire: bytes) -> None:
        if wire:
            self.incoming.write(wire)
        if self.handshake_done and not self.failed:
            assert self.obj is not None, "a handshake done means TLS started"
            while True:
                try:
                    chunk = self.obj.read(64 * 1024)
                except ssl.SSLWantReadError:
                    break
                except ssl.SSLError as exc:
                    self.failed = getattr(exc, "reason", None) or str(exc)
                    break
                if not chunk:
                    # A close_notify ends the proxy's side: its half close (an end of stream, as a
                    # FIN is), or the close that follows at once (a flushing close: the peer then
                    # reads it as that close, as it reads a plain one).
                    self.close_notify_seen = True
                    conn = self.conn
                    self.peer_saw_end |= conn is None or conn.write_end_stream
                    break
                self.received += chunk
            out = self.outgoing.read()
            if out and not self._ended:
                self._wire_send(out, False)
