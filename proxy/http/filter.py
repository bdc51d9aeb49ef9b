"""The HTTP filter contract (Envoy's StreamDecoderFilter / StreamEncoderFilter), stated once.

Every request stream gets its own instance of every configured HTTP filter. Requests run
through the filters in configuration order (decoding); responses run through them in reverse
(encoding). The router is always the last decoder filter and the first encoder: it turns the
decoded request into an upstream request and feeds the upstream response into encoding.

Callbacks and what they may return
  decode_headers(head, end_stream) / encode_headers(head, end_stream)
      CONTINUE            pass the headers to the next filter.
      STOP_ITERATION      hold the headers here. This filter still gets the stream's data and
                          trailers (the filters after it do not); returning CONTINUE from one of
                          those, or calling continue_decoding()/continue_encoding(), sends the
                          headers on, then what was buffered, then the current chunk.
      STOP_ALL_ITERATION  hold the headers and everything after them: data and trailers are
                          buffered by the stream without calling this filter, until continue_*;
                          over the buffer limit the source pauses (the client's reads, or the
                          upstream response) until then, never a 413 or 500 (Envoy's
                          StopAllIterationAndWatermark).
  decode_data(data, end_stream) / encode_data(data, end_stream)   (`data` is a Buffer; the
      filter may modify it)
      CONTINUE                   pass the chunk on (after what was buffered, if iteration was stopped here).
      STOP_ITERATION_AND_BUFFER  buffer the chunk; continue_* passes the buffered bytes on in one piece.
      STOP_ITERATION             do not pass the chunk on and do not buffer it: the filter owns it.
  decode_trailers(trailers) / encode_trailers(trailers)
      CONTINUE or STOP_ITERATION (hold the trailers until continue_*).

Anything else is a contract violation (HttpFilterContractError).

Buffering is bounded by the stream's buffer limit (the connection's buffer limit): a request
whose body a STOP_ITERATION_AND_BUFFER filter holds grows over it gets a 413 local reply, a response
a 500 (or a reset when the response headers already went downstream); a STOP_ALL_ITERATION hold
pauses its source instead.

Callbacks a filter may use (`self.decoder_callbacks` / `self.encoder_callbacks`, set before the
first call): continue_decoding() / continue_encoding() (asynchronous resumption only; returning
CONTINUE is how to go on from inside a callback), send_local_reply(status, body, flags) (answer
the request here: the request goes no further, the reply runs through every encoder filter, as
in Envoy, so encode_* may reach a filter whose decode_headers never ran),
decoding_buffer / encoding_buffer (what is buffered so far), stream_info (response flags,
upstream host, ...), connection (the downstream connection: remote address), dispatcher (timers),
route() (the route the request matches, looked up once, None when none does).

on_downstream_above/below_write_watermark() tell filters that produce the response (the router)
to pause and resume it, for backpressure from a slow client.

on_destroy() is called exactly once per filter when its stream ends (complete or reset):
cancel timers and upstream work there.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the stream machinery implements this contract, not the reverse
    from .filter_chain import FilterCallbacks


class FilterStatus(enum.Enum):
    CONTINUE = "continue"
    STOP_ITERATION = "stop_iteration"
    STOP_ITERATION_AND_BUFFER = "stop_iteration_and_buffer"
    STOP_ALL_ITERATION = "stop_all_iteration"


CONTINUE = FilterStatus.CONTINUE
STOP_ITERATION = FilterStatus.STOP_ITERATION
STOP_ITERATION_AND_BUFFER = FilterStatus.STOP_ITERATION_AND_BUFFER
STOP_ALL_ITERATION = FilterStatus.STOP_ALL_ITERATION

HEADERS_STATUSES = frozenset({CONTINUE, STOP_ITERATION, STOP_ALL_ITERATION})
DATA_STATUSES = frozenset({CONTINUE, STOP_ITERATION, STOP_ITERATION_AND_BUFFER})
TRAILERS_STATUSES = frozenset({CONTINUE, STOP_ITERATION})


class HttpFilterContractError(AssertionError):
    """A filter (or the stream driving it) broke the contract above: a proxy bug, never input."""


class StreamFilter:
    """Base class of HTTP filters: every callback passes everything on. Override what you need."""

    decoder_callbacks: FilterCallbacks  # set by the stream before the first call
    encoder_callbacks: FilterCallbacks

    def set_decoder_filter_callbacks(self, callbacks: FilterCallbacks) -> None:
        self.decoder_callbacks = callbacks

    def set_encoder_filter_callbacks(self, callbacks: FilterCallbacks) -> None:
        self.encoder_callbacks = callbacks

    def decode_headers(self, head, end_stream: bool) -> FilterStatus:
        return CONTINUE

    def decode_data(self, data, end_stream: bool) -> FilterStatus:
        return CONTINUE

    def decode_trailers(self, trailers) -> FilterStatus:
        return CONTINUE

    def encode_headers(self, head, end_stream: bool) -> FilterStatus:
        return CONTINUE

    def encode_data(self, data, end_stream: bool) -> FilterStatus:
        return CONTINUE

    def encode_trailers(self, trailers) -> FilterStatus:
        return CONTINUE

    def on_downstream_above_write_watermark(self) -> None:
        """The client reads slower than the response arrives: stop reading the upstream."""

    def on_downstream_below_write_watermark(self) -> None:
        """The client caught up: resume reading the upstream."""

    def on_destroy(self) -> None:
        pass
