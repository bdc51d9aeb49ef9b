"""HTTP RBAC behind a PROXY protocol balancer: source_prefixes match the client the PROXY header names, not
the balancer's own address (the TCP peer)."""

from _live import Proxy, Upstream, check, connect, http1_app, http_config, ok, read_response, request_bytes

RBAC = {"rbac": {"action": "DENY", "policies": [{"name": "blocked", "source_prefixes": ["203.0.113.0/24"]}]}}
LISTENER = {"listener_filters": [{"proxy_protocol": {}}]}


def via_balancer(port: int, client: str) -> int | None:
    with connect(port) as sock:
        sock.sendall(f"PROXY TCP4 {client} 192.0.2.1 40000 80\r\n".encode() + request_bytes("GET", "/"))
        answer = read_response(sock)
    return answer[0] if answer else None


with (
    Upstream(http1_app(lambda request: (200, [], b"hello"))) as up,
    Proxy(http_config(up.port, filters=[RBAC], listener=LISTENER)) as proxy,
):
    port = proxy.port("web")
    blocked, allowed = via_balancer(port, "203.0.113.7"), via_balancer(port, "198.51.100.7")
check(blocked == 403, f"a request from 203.0.113.7 (PROXY header), which the DENY policy names, got {blocked}")
check(allowed == 200, f"a request from 198.51.100.7 got {allowed}")
ok("the PROXY header's source decided: 203.0.113.7 denied, 198.51.100.7 served")
