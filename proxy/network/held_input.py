"""Feeding bytes a transport holds into a connection, one read at a time.

The socket runtime and the in-memory network hold what the peer sent while the connection
does not read. Both deliver it the same way, so this is the one place that does.
"""


def deliver_held_input(transport, read_size: int, can_read) -> None:
    """While `can_read()`, pass `transport.inbound` to `transport.conn.on_read` in reads of at
    most `read_size` bytes, with the peer's end of stream (`transport.inbound_end`) on the last
    one, or alone once everything was delivered. `transport._end_delivered` records that."""
    while can_read():
        conn = transport.conn
        if transport.inbound:
            chunk = bytes(transport.inbound[:read_size])
            del transport.inbound[: len(chunk)]
            last = not transport.inbound and transport.inbound_end
            transport._end_delivered |= last
            conn.on_read(chunk, last)
        elif transport.inbound_end and not transport._end_delivered:
            transport._end_delivered = True
            conn.on_read(b"", True)
        else:
            break


def hold_again(transport, data: bytes) -> None:
    """Bytes the connection read and gives back (listener filters peek before a filter chain
    is chosen): they go in front of what is held, and a delivered end of stream is delivered
    again after them. The transport then pumps as usual."""
    transport.inbound[:0] = data
    if transport.inbound_end:
        transport._end_delivered = False
