"""Cluster max_connections: with a limit of 1, a second tcp_proxy connection while the first is open is
refused (closed, `upstream_cx_overflow`), and the upstream never sees more than one connection."""

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until, tcp_config, wait_for

with Upstream(echo) as up, Proxy(tcp_config(up.port, cluster={"max_connections": 1})) as proxy:
    port = proxy.port("tcp")
    with connect(port) as first:
        first.sendall(b"one")
        check(recv_until(first, 3) == b"one", "the first connection was not echoed")
        with connect(port) as second:
            second.sendall(b"two")
            answer = recv_until(second, 3, timeout=2.0)
        wait_for(lambda: len(up.connections) > 1, timeout=0.5)
        opened = len(up.connections)
check(
    opened == 1 and answer == b"",
    f"max_connections 1, yet the upstream saw {opened} connections open at once (the second client got {answer!r})",
)
ok("the second connection was refused while the first held the only one")
