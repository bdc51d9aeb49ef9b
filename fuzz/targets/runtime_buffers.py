"""Memory a live connection holds, judged against the configuration (runtime harness).

A user sizes the proxy by per_connection_buffer_limit_bytes, on listeners (downstream connections)
and clusters (upstream ones): Envoy's soft limit, above which the connection's source is read no
more. So no connection's read or write buffer grows past the largest limit the configuration sets
(unset: bootstrap.proto's 1 MiB default, as built) by more than what arrives after its source was
paused: one read of each peer (a read's worth of input, and what the codec makes of one read on
the other side). The bound reads the built listeners and clusters (the config harness holds them
to the configuration), never the connection's own idea of its limit, which a transport may have
lost on the way.
"""

from proxy._server_socket import READ_SIZE

from fuzz.oracles import InvariantViolation

# One read in, and its translation out (HTTP/1 chunk framing, an HTTP/2 frame header), per side.
SLACK = 2 * READ_SIZE


def largest_limit(built) -> int:
    limits = [listener.buffer_limit for listener in built.listeners]
    limits += [cluster.buffer_limit for cluster in getattr(built, "clusters", {}).values()]
    return max(limits, default=0)


def check(server, built) -> None:
    """runtime_buffer_over_limit: a connection holds more than any configured limit allows."""
    bound = largest_limit(built) + SLACK
    for side, registry in (("downstream", server._downstream), ("upstream", server._upstream)):
        for transport in list(registry):
            conn = transport.conn
            if conn is None:
                continue
            for name, buffer in (("read", conn.read_buffer), ("write", conn.write_buffer)):
                if len(buffer) > bound:
                    raise InvariantViolation(
                        "runtime_buffer_over_limit",
                        f"an {side} connection's {name} buffer holds {len(buffer)} bytes; the largest "
                        f"per_connection_buffer_limit_bytes configured is {largest_limit(built)} "
                        f"(plus {SLACK} for the reads after a pause)",
                        judged="proxy._server_socket",
                    )
