"""listener.<name>.downstream_cx_total counts each accepted connection once, also on a listener with
listener filters: three connections through http_inspector read 3."""

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until, tcp_config

LISTENER = {"listener_filters": [{"http_inspector": {}}]}
with Upstream(echo) as up, Proxy(tcp_config(up.port, listener=LISTENER, admin=True)) as proxy:
    for _ in range(3):
        with connect(proxy.port("tcp")) as sock:
            sock.sendall(b"ping\n")
            echoed = recv_until(sock, 5, timeout=2.0)
            check(echoed == b"ping\n", f"a connection echoed {echoed!r}")
    total = proxy.stats().get("listener.tcp.downstream_cx_total", 0)
check(
    total == 3, f"three connections through a listener with http_inspector: listener.tcp.downstream_cx_total is {total}"
)
ok("downstream_cx_total counted each of the three connections once")
