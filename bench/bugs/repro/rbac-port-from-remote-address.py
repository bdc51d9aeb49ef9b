"""Network RBAC: a destination_ports policy matches the port the client connected to (the listener's),
not the client's own ephemeral source port."""

from _live import Proxy, Upstream, check, connect, echo, free_port, ok, recv_until, tcp_config


port = free_port()
RBAC = {"rbac": {"action": "ALLOW", "policies": [{"name": "this-port", "destination_ports": [port]}]}}
with (
    Upstream(echo) as up,
    Proxy(tcp_config(up.port, listener={"address": {"host": "127.0.0.1", "port": port}}, filters=[RBAC])) as proxy,
):
    with connect(proxy.port("tcp")) as sock:
        client_port = sock.getsockname()[1]
        sock.sendall(b"ping")
        answer = recv_until(sock, 4)
check(
    answer == b"ping",
    f"a connection to port {port}, which the ALLOW policy names, was refused "
    f"(echoed {answer!r}; the client's own port was {client_port})",
)
ok(f"the connection to port {port} was allowed and echoed")
