"""The TLS transport socket: ssl.SSLObject over two memory BIOs, between a connection's wire and
its buffers (the contract is proxy/network/transport_socket.py). The same code runs on the
in-memory network and on real sockets; nothing here touches a socket or a clock.

  wire in  -> incoming BIO -> handshake, then decrypted records -> conn.receive_plaintext
  write buffer -> SSLObject.write, only as much as the transport takes -> outgoing BIO -> wire

Plaintext waits in the connection's write buffer (its watermarks keep their meaning) and is
encrypted only when the transport asks for wire bytes, so what the TLS socket holds is at most
one take's worth. The handshake starts when the transport is up (a client sends its ClientHello)
and raises Connected when it completes, after the peer's certificate is checked; nothing is
decrypted or encrypted before. The connection's end of stream, and its flushing close, end with a
close_notify after the last record (RFC 8446 6.1; Envoy's SslSocket::closeSocket); the peer's
close_notify or TCP end of stream becomes the filters' end of stream (TLS 1.3 half-close works:
the other direction stays open).

A failed handshake or a corrupt record closes the connection, flushing the alert OpenSSL made.
Stats under the owner's prefix (`listener.<name>.ssl.` downstream, `cluster.<name>.ssl.`
upstream), Envoy's names: handshake, connection_error, fail_verify_no_cert, fail_verify_error,
fail_verify_san.
"""

import ssl

from ..network.connection import CloseType
from ..network.transport_socket import TransportSocket
from .info import PeerCertificate, TlsInfo, peer_matches

RECORD = 16 * 1024  # the most plaintext one TLS record carries


class TlsTransportSocket(TransportSocket):
    protocol = "tls"
    max_plaintext_per_read = RECORD

    def __init__(self, config, server_side: bool, stats, stat_prefix: str) -> None:
        self.config = config
        self.server_side = server_side
        self.stats, self.prefix = stats, stat_prefix
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        sni = None if server_side else (config.sni or None)
        self.obj = config.context.wrap_bio(self.incoming, self.outgoing, server_side=server_side, server_hostname=sni)
        self.handshaken = False
        self.failed = False
        self.shutdown_sent = False
        self.closing = False  # the connection closes flushing: its close_notify ends the flush
        self.eof_delivered = False

    # -- TransportSocket -----------------------------------------------------------------------
    def on_socket_connected(self, conn) -> None:
        if not self.server_side:
            self._handshake(conn)  # the ClientHello

    def on_wire_read(self, conn, data: bytes, end_stream: bool) -> None:
        if self.failed:
            return
        if data:
            self.incoming.write(data)
        if not self.handshaken:
            self._handshake(conn)
            if not self.handshaken:
                if end_stream and conn.is_open:
                    self._fail(conn, "connection_error")  # the peer left mid-handshake
                return
        if conn.is_open:
            self._read(conn, end_stream)

    def take_wire_output(self, conn, max_bytes) -> bytes:
        if self.handshaken and not self.failed:
            try:
                while len(conn.write_buffer) and (max_bytes is None or self.outgoing.pending < max_bytes):
                    self.obj.write(conn.write_buffer.take(RECORD))
                if self._ending(conn) and not len(conn.write_buffer) and not self.shutdown_sent:
                    self.shutdown_sent = True
                    try:
                        self.obj.unwrap()  # sends close_notify; the peer's comes (or not) later
                    except ssl.SSLWantReadError:
                        pass
            except ssl.SSLError:
                self.failed = True
                conn.dispatcher.post(lambda: conn.close(CloseType.NO_FLUSH))
        return self.outgoing.read(-1 if max_bytes is None else max_bytes)

    def has_wire_output(self, conn) -> bool:
        return bool(self.outgoing.pending) or (
            self.handshaken and not self.failed and self._ending(conn) and not self.shutdown_sent
        )

    def on_flush_close(self, conn) -> None:
        self.closing = True

    def _ending(self, conn) -> bool:
        """Our side ends once the write buffer is out: the connection's end of stream, or its flushing
        close once no write filter holds output back (the fault filter's throttle lets more come)."""
        if conn.write_end_stream:
            return True
        return self.closing and not conn.filter_manager.holds_writes()

    # -- handshake ------------------------------------------------------------------------------
    def _handshake(self, conn) -> None:
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            self._announce_output(conn)
            return
        except ssl.SSLError as exc:
            self._fail(conn, _failure_stat(exc))
            return
        peer = self._verified_peer()
        if self.config.match_sans and not peer_matches(self.config.match_sans, peer):
            self._fail(conn, "fail_verify_san")
            return
        self.handshaken = True
        self.stats.inc(self.prefix + "handshake")
        obj = self.obj
        conn.ssl = TlsInfo(
            version=obj.version() or "",
            cipher=(obj.cipher() or ("",))[0],
            alpn=obj.selected_alpn_protocol() or "",
            server_name=self._server_name(conn),
            peer=peer,
        )
        self._announce_output(conn)
        conn.raise_connected()

    def _verified_peer(self):
        if not self.config.verify_peer:
            return None  # nothing was checked: no identity to trust
        der = self.obj.getpeercert(binary_form=True)
        return PeerCertificate.from_der(der) if der else None

    def _server_name(self, conn) -> str:
        if not self.server_side:
            return self.config.sni
        return getattr(self.obj, "requested_server_name", None) or ""  # see context.server_config

    def _fail(self, conn, stat: str) -> None:
        self.failed = True
        self.stats.inc(self.prefix + stat)
        conn.stream_info.setdefault("failure", "tls_" + stat)
        # A handshake alert OpenSSL made is flushed; after the handshake, plaintext still queued
        # could never be encrypted, so the connection goes at once.
        conn.close(CloseType.NO_FLUSH if self.handshaken else CloseType.FLUSH_WRITE)

    def _announce_output(self, conn) -> None:
        if self.outgoing.pending:
            conn.wire_output_ready()

    # -- application data -------------------------------------------------------------------------
    def _read(self, conn, end_stream: bool) -> None:
        chunks, closed = [], False
        while True:
            try:
                chunk = self.obj.read(RECORD)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                closed = True
                break
            except ssl.SSLError:
                self._fail(conn, "connection_error")
                return
            if not chunk:
                closed = True  # close_notify
                break
            chunks.append(chunk)
        self._announce_output(conn)  # post-handshake messages may want an answer
        data = b"".join(chunks)
        end = (closed or end_stream) and not self.eof_delivered
        if data or end:
            self.eof_delivered |= end
            conn.receive_plaintext(data, end)


def _failure_stat(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "fail_verify_error"
    if getattr(exc, "reason", "") == "PEER_DID_NOT_RETURN_A_CERTIFICATE":
        return "fail_verify_no_cert"
    return "connection_error"
