"""Cluster max_connections: with a limit of 1, a second tcp_proxy connection while the first is open is
refused (closed, `upstream_cx_overflow`), and the upstream never sees more than one connection."""

from _live import Proxy, Upstream, check, echo, ok, second_connection_while_first_open, tcp_config

with Upstream(echo) as up, Proxy(tcp_config(up.port, cluster={"max_connections": 1})) as proxy:
    opened, answer = second_connection_while_first_open(up, proxy.port("tcp"))
check(
    opened == 1 and answer == b"",
    f"max_connections 1, yet the upstream saw {opened} connections open at once (the second client got {answer!r})",
)
ok("the second connection was refused while the first held the only one")
