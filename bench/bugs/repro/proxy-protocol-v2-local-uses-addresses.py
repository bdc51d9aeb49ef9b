"""PROXY protocol v2, command LOCAL (a health check from the proxy in front): "the receiver must
accept this connection as valid and must use the real connection endpoints and discard the protocol
block including the family" (HAProxy's spec 2.2). A LOCAL header that still carries addresses does
not change who the connection is from: network RBAC that allows 127.0.0.0/8 lets it through."""

import socket

from _live import Proxy, Upstream, check, connect, echo, ok, recv_until, tcp_config

RBAC = {"rbac": {"action": "ALLOW", "policies": [{"name": "local", "source_prefixes": ["127.0.0.0/8"]}]}}
LISTENER = {"listener_filters": [{"proxy_protocol": {}}]}
SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
# version 2, command LOCAL (0x20); AF_INET over STREAM (0x11); 12 address bytes: 10.1.2.3:1000 -> 10.9.9.9:80
BLOCK = (
    socket.inet_aton("10.1.2.3") + socket.inet_aton("10.9.9.9") + (1000).to_bytes(2, "big") + (80).to_bytes(2, "big")
)
HEADER = SIGNATURE + b"\x20\x11" + len(BLOCK).to_bytes(2, "big") + BLOCK

with Upstream(echo) as up, Proxy(tcp_config(up.port, filters=[RBAC], listener=LISTENER)) as proxy:
    with connect(proxy.port("tcp")) as sock:
        sock.sendall(HEADER + b"ping")
        echoed = recv_until(sock, 4, timeout=2.0)
check(
    echoed == b"ping",
    f"a PROXY v2 LOCAL header from 127.0.0.1 carrying 10.1.2.3 got {echoed!r} from a listener whose RBAC "
    "allows 127.0.0.0/8: the LOCAL block's addresses were used as the connection's source",
)
ok("the LOCAL header kept the real endpoints: the connection was allowed and echoed")
