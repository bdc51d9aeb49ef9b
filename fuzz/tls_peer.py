"""A TLS peer at the far end of a SimSocket: a downstream client or an upstream server that speaks
TLS (Python's ssl.SSLObject over memory BIOs, certificates from the test PKI, fuzz/test_pki.py).

It has the peer-side interface of a SimSocket, on plaintext: `peer_send(data, end_stream)`,
`peer_read(n)`, `peer_close()`, `peer_reset()`, and `sent` / `received` / `peer_saw_end` / `conn`,
so sessions and tests drive a TLS peer like a plain one and byte oracles compare plaintext. `wire`
is the SimSocket itself (ciphertext: `wire.received` is what the proxy put on the wire).

Like a real TLS stack it answers the handshake as soon as bytes arrive: `drive()` moves the
handshake on (the session calls it after every action); application data is read only when the
peer reads (`peer_read(n)` takes up to n wire bytes). Plaintext sent before the handshake is done
waits for it. Ending the stream sends close_notify, then the TCP end of stream.
"""

import functools
import ssl

from . import test_pki


@functools.lru_cache(maxsize=None)
def client_context(certificate: str = "", alpn: tuple = ()) -> ssl.SSLContext:
    """A client context: no verification (the proxy's certificate is not what is judged here),
    `certificate` "client" / "other-client" / "" (none), ALPN offered in order."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    if certificate:
        d = test_pki.ensure()
        ctx.load_cert_chain(d / f"{certificate}.pem", d / f"{certificate}.key")
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


@functools.lru_cache(maxsize=None)
def server_context(alpn: tuple = ("h2", "http/1.1")) -> ssl.SSLContext:
    """An upstream server context with the test server certificate; it asks for a client
    certificate (optional) and verifies one against the test CA."""
    d = test_pki.ensure()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "server.pem", d / "server.key")
    ctx.load_verify_locations(d / "ca.pem")
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.num_tickets = 0
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


class TlsPeer:
    def __init__(self, wire, context: ssl.SSLContext, server_side: bool, server_name: str | None = None) -> None:
        self.wire = wire
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                    server_hostname=server_name or None)
        self.server_side = server_side
        self.sent = bytearray()          # plaintext this peer sent
        self.received = bytearray()      # plaintext it read
        self.peer_saw_end = False        # close_notify (or the TCP end) arrived
        self.handshake_done = False
        self.failed = ""                 # why the handshake failed, if it did
        self._waiting = bytearray()      # plaintext sent before the handshake completed
        self._waiting_end = False
        self._ended = False
        if not server_side:
            self._step()

    @property
    def conn(self):
        return self.wire.conn

    @property
    def read_size(self):
        return self.wire.read_size

    # -- the peer-side interface ---------------------------------------------------------------
    def peer_send(self, data: bytes, end_stream: bool = False) -> None:
        if self._ended or self.wire.is_closed:
            return
        self.sent += data
        if not self.handshake_done:
            self._waiting += data
            self._waiting_end |= end_stream
            self.drive()
            return
        self._write(data, end_stream)

    def peer_close(self) -> None:
        self.peer_send(b"", end_stream=True)

    def peer_reset(self) -> None:
        self.wire.peer_reset()

    def peer_read(self, max_bytes: int | None = None) -> bytes:
        before = len(self.received)
        self._absorb(self.wire.peer_read(max_bytes))
        if not self.handshake_done:
            self.drive()
        return bytes(self.received[before:])

    def drive(self) -> None:
        """Answer what the proxy wrote until the handshake is done, fails, or waits for the proxy."""
        while not self.handshake_done and not self.failed:
            wire = self.wire.peer_read()
            if wire:
                self.incoming.write(wire)
            progressed = self._step()
            if not wire and not progressed:
                return

    # -- internals -------------------------------------------------------------------------------
    def _step(self) -> bool:
        """One handshake attempt; sends what it made. True when bytes went out or it finished."""
        try:
            self.obj.do_handshake()
            self.handshake_done = True
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as exc:
            self.failed = getattr(exc, "reason", None) or str(exc)
        out = self.outgoing.read()
        if out:
            self.wire.peer_send(out)
        if self.handshake_done:
            self._absorb(b"")
            waiting, self._waiting = bytes(self._waiting), bytearray()
            if waiting or self._waiting_end:
                self._write(waiting, self._waiting_end)
        return bool(out) or self.handshake_done or bool(self.failed)

    def _write(self, data: bytes, end_stream: bool) -> None:
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
        self.wire.peer_send(self.outgoing.read(), end_stream)

    def _absorb(self, wire: bytes) -> None:
        if wire:
            self.incoming.write(wire)
        if self.handshake_done and not self.failed:
            while True:
                try:
                    chunk = self.obj.read(64 * 1024)
                except ssl.SSLWantReadError:
                    break
                except ssl.SSLError as exc:
                    self.failed = getattr(exc, "reason", None) or str(exc)
                    break
                if not chunk:
                    self.peer_saw_end = True
                    break
                self.received += chunk
            out = self.outgoing.read()
            if out and not self._ended:
                self.wire.peer_send(out)
        if self.wire.peer_saw_end:
            self.peer_saw_end = True
