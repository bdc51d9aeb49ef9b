"""Oracle: nothing is written into an HTTP/1.1 upstream connection once the proxy has read that
upstream's end of stream. The server closed (RFC 9112 9.6 lets it, after any response, without
`Connection: close`), so a request written now can only fail: its client gets a 503 although a new
connection would have served it. Envoy attaches a waiting request only after the read event that
ended the previous response, its end of stream included.

Checked at every write into a session's upstream connections (fuzz/session.py). Left out: HTTP/2
connections (the codec answers the frames that came with the end: SETTINGS ACK, WINDOW_UPDATE) and
connections with half-close (tcp_proxy keeps forwarding the client's bytes after the upstream's FIN).
"""

from .oracles import InvariantViolation

H2_PREFACE_START = b"PRI "


def check_no_write_after_upstream_end(conn) -> None:
    """Wrap `conn.write` (this connection only) with the check."""
    write = conn.write
    first: list[bytes] = []

    def checked_write(data, end_stream: bool = False) -> None:
        if len(data):
            if not first:
                first.append(bytes(data[:4]))
            if (
                getattr(conn.io, "_end_delivered", False)
                and not conn.half_close_enabled
                and first[0] != H2_PREFACE_START
            ):
                raise InvariantViolation(
                    "upstream_written_after_its_end",
                    f"{len(data)} byte(s) written to upstream {conn.remote_address} after reading its end of "
                    f"stream: {bytes(data[:60])!r}",
                )
        write(data, end_stream)

    conn.write = checked_write
