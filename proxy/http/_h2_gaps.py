"""Where the h2 package departs from RFC 9113, corrected once: a state machine entry at import,
and the GOAWAY rule in a connection subclass.

An endpoint that reset a stream must ignore the frames its peer sent before the RST_STREAM reached
it (RFC 9113 5.1, "closed": frames in flight). h2 does so for HEADERS and DATA (a StreamClosedError
it answers as a stream error) but has no transition for an informational (1xx) HEADERS frame on a
closed stream, so an upstream's 100 Continue or 103 Early Hints crossing our reset raised
ProtocolError and ended the whole connection, every other stream on it with it. Nghttp2 (Envoy's
codec) ignores such a frame. The missing entry gives 1xx HEADERS the rule of any HEADERS on a closed
stream: ignored after our reset, a connection error after an END_STREAM (RFC 9113 5.1).
"""

import h2.connection
from h2.stream import _transitions, H2StreamStateMachine, StreamInputs, StreamState

_transitions.setdefault(
    (StreamState.CLOSED, StreamInputs.RECV_INFORMATIONAL_HEADERS),
    (H2StreamStateMachine.recv_on_closed_stream, StreamState.CLOSED),
)


# The most our HPACK encoder's dynamic table holds, whatever the peer's SETTINGS_HEADER_TABLE_SIZE:
# that setting is the most the peer's decoder accepts, and an encoder may use less, saying so with a
# dynamic table size update (RFC 7541 4.2, RFC 9113 6.5.2). h2 takes the peer's value as it is, so a
# client announcing 4 GiB made the encoder keep every header it sent on that connection (hpack searches
# the table linearly: each response slower than the last). nghttp2 (Envoy's codec) caps its encoder
# at 4 KiB.
ENCODER_TABLE_LIMIT = 4096


class H2Connection(h2.connection.H2Connection):
    """h2's connection, whose GOAWAYs never name a stream above one an earlier GOAWAY named, and whose
    HPACK encoder's table never exceeds ENCODER_TABLE_LIMIT.

    RFC 9113 6.8: "Endpoints MUST NOT increase the value they send in the last stream identifier".
    h2 names its highest inbound stream in every GOAWAY, so after our graceful GOAWAY(last=1) (a
    drain) a connection error on a stream the client opened since sent GOAWAY(last=5): the client
    may then believe streams 3 and 5 were processed. The codec sets `goaway_last` when it sends its
    own GOAWAY; every later one names at most that.
    """

    goaway_last: int | None = None

    def _capped(self, last: int) -> int:
        return last if self.goaway_last is None else min(last, self.goaway_last)

    def close_connection(self, error_code=0, additional_data=None, last_stream_id=None) -> None:
        if last_stream_id is None:
            last_stream_id = self.highest_inbound_stream_id
        super().close_connection(error_code, additional_data, self._capped(last_stream_id))

    def _terminate_connection(self, error_code) -> None:
        # h2's own connection errors name highest_inbound_stream_id: lowered only for that frame.
        highest = self.highest_inbound_stream_id
        self.highest_inbound_stream_id = self._capped(highest)
        try:
            super()._terminate_connection(error_code)
        finally:
            self.highest_inbound_stream_id = highest

    def _acknowledge_settings(self):
        frames = super()._acknowledge_settings()
        encoder = self.encoder
        if encoder.header_table_size > ENCODER_TABLE_LIMIT:
            # RFC 7541 4.2: the smallest size since the last block, then the final one.
            smallest = min([*encoder.table_size_changes, ENCODER_TABLE_LIMIT])
            encoder.header_table_size = ENCODER_TABLE_LIMIT
            encoder.table_size_changes = [smallest, ENCODER_TABLE_LIMIT] if smallest < ENCODER_TABLE_LIMIT else []
            encoder.header_table.resized = bool(encoder.table_size_changes)
        return frames
