"""Network fault delay before tcp_proxy: the connection is held delay_ms, then proxied as usual: the
upstream is connected and the client's bytes reach it."""

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until, tcp_config

CONFIG = dict(filters=[{"fault": {"delay_ms": 200}}])

with Upstream(echo) as up, Proxy(tcp_config(up.port, **CONFIG)) as proxy:
    with connect(proxy.port("tcp")) as sock:
        sock.sendall(b"ping")
        answer = recv_until(sock, 4, timeout=3)
    upstream_connections = len(up.connections)
check(
    answer == b"ping",
    f"after the 200 ms fault delay the connection was not proxied: echoed {answer!r}, "
    f"upstream connections opened: {upstream_connections}",
)
ok("the delayed connection was proxied to the echo upstream")
