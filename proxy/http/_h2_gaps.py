"""Where the h2 package departs from RFC 9113, corrected once, at import.

An endpoint that reset a stream must ignore the frames its peer sent before the RST_STREAM reached
it (RFC 9113 5.1, "closed": frames in flight). h2 does so for HEADERS and DATA (a StreamClosedError
it answers as a stream error) but has no transition for an informational (1xx) HEADERS frame on a
closed stream, so an upstream's 100 Continue or 103 Early Hints crossing our reset raised
ProtocolError and ended the whole connection, every other stream on it with it. Nghttp2 (Envoy's
codec) ignores such a frame. The missing entry gives 1xx HEADERS the rule of any HEADERS on a closed
stream: ignored after our reset, a connection error after an END_STREAM (RFC 9113 5.1).
"""

from h2.stream import _transitions, H2StreamStateMachine, StreamInputs, StreamState

_transitions.setdefault(
    (StreamState.CLOSED, StreamInputs.RECV_INFORMATIONAL_HEADERS),
    (H2StreamStateMachine.recv_on_closed_stream, StreamState.CLOSED),
)
