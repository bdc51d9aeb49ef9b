"""A cluster's connection cap is the smaller of Cluster.max_connections and
circuit_breakers.max_connections (each 1024 when unset): a breaker set higher does not lift the
cluster's own cap. Here max_connections is 1 and the breaker 100: a second tcp_proxy connection while
the first is open is refused, and the upstream never sees two at once."""

from _live import Proxy, Upstream, check, echo, ok, second_connection_while_first_open, tcp_config

cluster = {"max_connections": 1, "circuit_breakers": {"max_connections": 100}}
with Upstream(echo) as up, Proxy(tcp_config(up.port, cluster=cluster)) as proxy:
    opened, answer = second_connection_while_first_open(up, proxy.port("tcp"))
check(
    opened == 1 and answer == b"",
    f"max_connections 1 under a breaker of 100, yet the upstream saw {opened} connections open at once "
    f"(the second client got {answer!r})",
)
ok("the cluster's cap of 1 held under a higher breaker")
