"""Memory the proxy holds, per connection and per HTTP stream, against what its configuration allows.

A proxy user sizes memory by per_connection_buffer_limit_bytes (Envoy: each connection's buffers,
and each HTTP stream's buffers, stay near that limit: watermarks stop reading long before) and the
HTTP/2 windows it advertises. What a peer can make the proxy hold is bounded by that; a peer that
makes it hold much more (a stalled HTTP/2 stream buffering upstream body without end, a client
pipelining into an unbounded parse buffer) found a memory growth defect. So:

    held by a connection:  its read and write buffers and its codec's unparsed input
    held by a stream:      bodies held by its filters and router, response bytes its downstream
                           HTTP/2 codec keeps for the client's window, request bytes its upstream
                           HTTP/2 codec keeps for the upstream's window, pipelined response bytes
                           its HTTP/1.1 codec queues

and each must stay within SLACK times its allowance: the buffer limit, plus what may arrive before
a watermark stops the sender (one read of the transport, or the HTTP/2 window the proxy advertised
to that sender: it may send that much more after the proxy stops acknowledging), plus a header
block (the configured header limit). On an HTTP/2 connection the limit also bounds what its streams
hold together for the client's windows (issue 13 defect 3: a hundred stalled streams held a limit
each), give or take what each stream's upstream had on the way when it was paused. Measured after
every action (`check`), so a peak between two settled states counts.

tcp_proxy moves bytes with no stream in between, and the same watermarks bound it (Envoy's flow
control, proxy/network/filters/tcp_proxy.py): what one side has read and the other has not yet put
on the wire waits in the other side's write buffer or with its write filters (the fault filter's
throttle), each a watermarked buffer of at most the limit before its high watermark. More than all
of them can hold below high means one is above it, and then the reading side must be read-disabled:
`tcp_proxy_read_past_the_watermark` when it still reads (a buffer of output no watermark guards).
"""

from proxy.http._h1_state import SendBody
from proxy.network.connection import State

from .liveness import inner_codec, managers, pool_connections
from .oracles import InvariantViolation

SLACK = 2
MAX_READ = 16 * 1024  # the largest read a session's transports make (fuzz.session.READ_SIZES, sim.READ_SIZE)


def check(session) -> None:
    _check_tcp_proxy_pairs(session)
    pcs = pool_connections(session.ctx)
    for _, hcm in managers(session):
        conn = hcm.conn
        codec = inner_codec(hcm.codec)
        limits = hcm.config.limits
        allowance = conn.buffer_limit + MAX_READ + hcm.config.max_request_headers_bytes
        held = len(conn.read_buffer) + len(conn.write_buffer) + _codec_input(codec)
        if held > SLACK * allowance:
            raise InvariantViolation(
                "memory_held_over_limit_connection",
                f"downstream {conn!r} holds {held} bytes (buffers {len(conn.read_buffer)} + "
                f"{len(conn.write_buffer)}, codec input {_codec_input(codec)}); its limit is "
                f"{conn.buffer_limit}, allowance {allowance}",
            )
        overshoot = {}
        for stream in hcm.streams.values():
            parts = stream_held(stream, codec)
            window_in = limits.h2_initial_window_size if hasattr(codec, "_conn") else MAX_READ
            allowance = (
                stream.buffer_limit + window_in + _upstream_window(stream) + hcm.config.max_request_headers_bytes
            )
            if sum(parts.values()) > SLACK * allowance:
                detail = ", ".join(f"{k} {v}" for k, v in parts.items() if v)
                raise InvariantViolation(
                    "memory_held_over_limit_stream",
                    f"stream {stream.stream_id} on {conn!r} holds {sum(parts.values())} bytes "
                    f"({detail}); its buffer limit is {stream.buffer_limit}, allowance {allowance}",
                )
            overshoot[stream.stream_id] = _upstream_window(stream)
        # HTTP/2: the buffer limit bounds what the connection's streams hold together for the client's
        # windows (conn_manager.py: over it, every stream with bytes waiting is paused), streams whose
        # response is all written included; each may still take in what its upstream had on the way
        # when it was paused.
        h2_streams = codec._streams if hasattr(codec, "_conn") else {}
        waiting = {sid: st.out_bytes for sid, st in h2_streams.items() if st.out_bytes}
        overshoot = sum(min(n, overshoot.get(sid, MAX_READ)) for sid, n in waiting.items())
        waiting = sum(waiting.values())
        allowance = conn.buffer_limit + hcm.config.max_request_headers_bytes
        if waiting > SLACK * allowance + overshoot:
            raise InvariantViolation(
                "memory_held_over_limit_connection",
                f"downstream {conn!r}: its streams hold {waiting} bytes for "
                f"the client's windows; the connection's limit is {conn.buffer_limit} "
                f"(allowance {SLACK * allowance} + {overshoot} on the way when paused)",
            )
    for pc in pcs.values():
        conn = pc.conn
        if conn.state is State.CLOSED:
            continue
        allowance = conn.buffer_limit + MAX_READ + pc.codec.limits.max_header_bytes
        held = len(conn.read_buffer) + len(conn.write_buffer) + _codec_input(pc.codec)
        if held > SLACK * allowance:
            raise InvariantViolation(
                "memory_held_over_limit_connection",
                f"upstream {conn!r} holds {held} bytes; its limit is {conn.buffer_limit}, allowance {allowance}",
            )


def _check_tcp_proxy_pairs(session) -> None:
    if not session.check_bytes:
        return  # a write filter of the driver drops chunks (network_filter's probe): no byte count holds
    for sock in session.downstream:
        down = sock.conn
        if down is None or down.stream_info.get("terminal") != "tcp_proxy":
            continue
        up = down.stream_info.get("upstream_connection")
        if up is not None:
            _check_direction(down, up, "client to upstream")
            _check_direction(up, down, "upstream to client")


def _check_direction(src, dst, what: str) -> None:
    """Bytes `src` read that `dst` has not sent: over what dst's output buffers hold below their high
    watermarks, src must not be reading. Judged while both are open, dst has not ended its output
    (no byte was dropped) and sends plaintext (TLS sends more bytes than it was given)."""
    if src.state is not State.OPEN or dst.state is not State.OPEN or dst.write_end_stream:
        return
    if dst.transport_socket is not None or not dst.connected:
        return
    waiting = src.bytes_received - len(src.read_buffer) - dst.bytes_sent
    holders = 1 + len(dst.filter_manager.write_filters)  # its write buffer, each write filter's held bytes
    below_high = holders * (dst.buffer_limit + 1)
    if waiting > below_high and src.read_disable_count == 0:
        raise InvariantViolation(
            "tcp_proxy_read_past_the_watermark",
            f"{what}: {waiting} bytes read from {src!r} wait for {dst!r}, more than its {holders} output "
            f"buffers hold below their high watermark ({below_high}, limit {dst.buffer_limit}), and "
            f"{src!r} still reads",
            judged="proxy/network/filters/tcp_proxy.py:TcpProxyFilter",
            expected=f"reads disabled once more than {below_high} bytes wait",
            observed=waiting,
        )


def stream_held(stream, codec) -> dict:
    """Bytes held on behalf of one HTTP stream, by holder."""
    chain = stream.chain
    router = chain.filters[-1]
    parts = {
        "request in filters": chain.decoder.buffered(),
        "response in filters": chain.encoder.buffered(),
        "request in router": len(getattr(router, "body", b"")),
        "response for the client's window": 0,
        "request for the upstream's window": 0,
        "pipelined response": 0,
    }
    if hasattr(codec, "_conn"):  # HTTP/2
        parts["response for the client's window"] = codec.buffered_outbound(stream.stream_id)
    else:  # counted from the queue itself, not by the codec's own buffered_outbound the proxy pauses by
        ex = getattr(codec, "_streams", {}).get(stream.stream_id)
        parts["pipelined response"] = sum(len(op.data) for op in getattr(ex, "ops", ()) if isinstance(op, SendBody))
    up = getattr(router, "upstream", None)
    if up is not None and not up.closed and up.pc.protocol == "http2" and up.stream_id is not None:
        parts["request for the upstream's window"] = up.pc.codec.buffered_outbound(up.stream_id)
    return parts


def _upstream_window(stream) -> int:
    """What an upstream may still send after the router stops reading it: one read (HTTP/1.1), or the
    window the proxy's HTTP/2 client advertised."""
    up = getattr(stream.chain.filters[-1], "upstream", None)
    if up is not None and up.pc.protocol == "http2":
        return up.pc.codec.limits.h2_initial_window_size
    return MAX_READ


def _codec_input(codec) -> int:
    """Bytes a codec received and holds unparsed (HTTP/1.1 input, a partial HTTP/2 frame)."""
    held = getattr(codec, "_in", None)
    return len(held if held is not None else getattr(codec, "_held", b""))
