"""HTTP/2 flow-control accounting of one of the proxy's codecs (proxy/http/h2.py), connection and
stream level, as h2 keeps it: every DATA byte received is either still with the codec's owner
(delivered, not yet consumed) or was acknowledged to h2, which credits it back with WINDOW_UPDATE;
a window never goes below 0 (what we advertised) nor past 2^31-1 (RFC 9113 6.9.1).

Used at quiescence by sessions (fuzz/liveness.py), the codec pair of h2_codec and the translation
path of http_translate.
"""

from .oracles import InvariantViolation

MAX_WINDOW = 2**31 - 1


def check_h2_windows(label: str, codec, consumed_all: bool = False) -> None:
    """HTTP/2 flow control of one codec (proxy.http.h2), connection and stream level: every DATA byte
    received is either still unconsumed by the codec's owner or was acknowledged to h2 (which credits
    it back with WINDOW_UPDATE); windows stay within 0..2^31-1 (inbound) and under 2^31-1 (outbound).
    With `consumed_all` the owner has consumed everything, so nothing may be left unconsumed."""
    conn = codec._conn
    streams = codec._streams
    owed = sum(st.unconsumed for st in streams.values())
    _check_connection_window_opened(label, codec)
    _check_window_account(f"{label} connection", conn._inbound_flow_control_window_manager, owed)
    if not 0 <= conn.inbound_flow_control_window <= MAX_WINDOW or conn.outbound_flow_control_window > MAX_WINDOW:
        raise InvariantViolation(
            "h2_window_out_of_range",
            f"{label}: inbound {conn.inbound_flow_control_window}, outbound {conn.outbound_flow_control_window}",
        )
    for sid, st in streams.items():
        h2_stream = conn.streams.get(sid)
        if h2_stream is None or not h2_stream.open:
            continue
        if consumed_all and st.unconsumed:
            raise InvariantViolation(
                "h2_window_not_credited", f"{label} stream {sid}: {st.unconsumed} bytes delivered and never consumed"
            )
        _check_window_account(f"{label} stream {sid}", h2_stream._inbound_window_manager, st.unconsumed)
        inbound, outbound = h2_stream.inbound_flow_control_window, h2_stream.outbound_flow_control_window
        if not 0 <= inbound <= MAX_WINDOW or outbound > MAX_WINDOW:
            raise InvariantViolation(
                "h2_window_out_of_range", f"{label} stream {sid}: inbound {inbound}, outbound {outbound}"
            )


def _check_connection_window_opened(label: str, codec) -> None:
    """The connection window the codec grants is at least the stream window its SETTINGS advertise
    (http2_protocol_options.initial_window_size): else the connection window, 65535 until opened by a
    WINDOW_UPDATE (RFC 9113 6.9.2), caps every stream below the configured window and the setting
    changes nothing (found by code reading; Envoy opens it, initial_connection_window_size)."""
    granted = codec._conn._inbound_flow_control_window_manager.max_window_size
    advertised = codec.limits.h2_initial_window_size
    if granted < advertised:
        raise InvariantViolation(
            "h2_connection_window_below_setting",
            f"{label}: the connection window is {granted}, the streams' advertised window {advertised}",
        )


def _check_window_account(label: str, window, owed: int) -> None:
    # h2's WindowManager: max - current is what the peer sent and was not credited back yet;
    # _bytes_processed is what was acknowledged and waits for h2 to send the WINDOW_UPDATE.
    unacknowledged = window.max_window_size - window.current_window_size - window._bytes_processed
    if unacknowledged > owed:
        raise InvariantViolation(
            "h2_window_not_credited",
            f"{label}: {unacknowledged} bytes received and never acknowledged, {owed} of them still with the owner",
        )
    if unacknowledged < owed:
        raise InvariantViolation(
            "h2_window_overcredited",
            f"{label}: {owed} bytes still with the owner but only {unacknowledged} are missing from the window",
        )
