"""Choosing a codec: by kind (`create_server_codec`, `create_client_codec`), or, for a server
that accepts both, by ALPN or by sniffing the first bytes (AutoServerCodec).

The interface (proxy/http/codec.py) knows no implementation; this module sits above it and the
two codecs, so the dependency runs one way: codec_select -> h1, h2 -> codec."""

from typing import Literal

from proxy.http.codec import (
    ALPN_CODECS,
    DEFAULT_LIMITS,
    H2_PREFACE,
    ClientCodec,
    CodecKind,
    CodecLimits,
    CodecUsageError,
    ConnectionClosed,
    Event,
    ServerCodec,
)
from proxy.http.h1 import H1ClientCodec, H1ServerCodec
from proxy.http.h2 import H2ClientCodec, H2ServerCodec


class AutoServerCodec(ServerCodec):
    """Picks HTTP/2 when the first bytes are the prior-knowledge preface, else HTTP/1.1 (or what
    TLS ALPN chose, follow_alpn).

    Bytes are held until they either equal the preface or stop being a prefix of it, so a preface
    split across reads is recognised. Until then no events are produced and nothing is sent.
    """

    def __init__(self, limits: CodecLimits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._held = b""
        self._inner: ServerCodec | None = None
        self._stats: dict[str, int] = {}

    @property
    def protocol(self) -> str | None:
        """ "HTTP1", "HTTP2", or None while still sniffing."""
        if self._inner is None:
            return None
        return "HTTP2" if isinstance(self._inner, H2ServerCodec) else "HTTP1"

    @property
    def stats(self) -> dict[str, int]:  # type: ignore[override]
        return self._inner.stats if self._inner is not None else self._stats

    @property
    def wants_close(self) -> bool:  # type: ignore[override]
        return self._inner.wants_close if self._inner is not None else False

    @property
    def close_unflushed(self) -> bool:  # type: ignore[override]
        return self._inner.close_unflushed if self._inner is not None else False

    @property
    def close_cuts_response(self) -> bool:  # type: ignore[override]
        return self._inner.close_cuts_response if self._inner is not None else False

    def note_unwritten(self, n: int) -> None:
        if self._inner is not None:
            self._inner.note_unwritten(n)

    def follow_alpn(self, alpn: str) -> None:
        """The TLS handshake chose the protocol (RFC 7301): speak it from the first byte instead
        of sniffing. Anything but h2, http/1.1 and http/1.0 leaves the choice to the bytes."""
        kind = ALPN_CODECS.get(alpn)
        if kind is not None and self._inner is None and not self._held:
            self._inner = create_server_codec(kind, self._limits)

    def receive_data(self, data: bytes) -> list[Event]:
        if self._inner is not None:
            return self._inner.receive_data(data)
        if not data:
            return [ConnectionClosed("peer closed before sending a request")]
        self._held += data
        n = min(len(self._held), len(H2_PREFACE))
        if self._held[:n] == H2_PREFACE[:n] and len(self._held) < len(H2_PREFACE):
            return []  # still a prefix of the preface: wait for more
        kind: CodecKind = "HTTP2" if self._held.startswith(H2_PREFACE) else "HTTP1"
        self._inner = create_server_codec(kind, self._limits)
        held, self._held = self._held, b""
        return self._inner.receive_data(held)

    def _need_inner(self) -> ServerCodec:
        if self._inner is None:
            raise CodecUsageError("no protocol chosen yet: no stream exists")
        return self._inner

    def data_to_send(self) -> bytes:
        return self._inner.data_to_send() if self._inner is not None else b""

    def pending_events(self) -> list[Event]:
        return self._inner.pending_events() if self._inner is not None else []

    def send_headers(self, stream_id, status, headers, end_stream=False):
        self._need_inner().send_headers(stream_id, status, headers, end_stream)

    def answered_itself(self, stream_id):
        return self._inner is not None and self._inner.answered_itself(stream_id)

    @property
    def request_started(self) -> bool:
        # Bytes held while sniffing are a prefix of the HTTP/2 preface, never a request's.
        return self._inner is not None and self._inner.request_started

    def time_out_request(self) -> int | None:
        return self._inner.time_out_request() if self._inner is not None else None

    def send_data(self, stream_id, data, end_stream=False):
        self._need_inner().send_data(stream_id, data, end_stream)

    def send_trailers(self, stream_id, headers):
        self._need_inner().send_trailers(stream_id, headers)

    def reset_stream(self, stream_id, reason="reset by owner"):
        self._need_inner().reset_stream(stream_id, reason)

    def consume(self, stream_id, n):
        self._need_inner().consume(stream_id, n)

    def goaway(self):
        if self._inner is not None:
            self._inner.goaway()


def create_server_codec(kind: CodecKind, limits: CodecLimits = DEFAULT_LIMITS) -> ServerCodec:
    if kind == "HTTP1":
        return H1ServerCodec(limits)
    if kind == "HTTP2":
        return H2ServerCodec(limits)
    if kind == "AUTO":
        return AutoServerCodec(limits)
    raise CodecUsageError(f"unknown codec kind {kind!r}: expected HTTP1, HTTP2 or AUTO")


def create_client_codec(kind: Literal["HTTP1", "HTTP2"], limits: CodecLimits = DEFAULT_LIMITS) -> ClientCodec:
    if kind == "HTTP1":
        return H1ClientCodec(limits)
    if kind == "HTTP2":
        return H2ClientCodec(limits)
    raise CodecUsageError(f"unknown client codec kind {kind!r}: expected HTTP1 or HTTP2")


__all__ = ["AutoServerCodec", "create_client_codec", "create_server_codec"]
