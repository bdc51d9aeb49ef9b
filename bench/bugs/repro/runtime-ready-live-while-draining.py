"""Admin /ready while the proxy drains (Envoy's /ready: 200 LIVE only while the server is LIVE, 503
DRAINING once it drains): after SIGTERM, with a client connection still open (so the drain lasts),
/ready answers 503 DRAINING, which is how a load balancer's health check learns to send no more."""

import signal

from _live import Proxy, Upstream, check, connect, echo, http1_request, ok, recv_until, tcp_config, wait_for

with Upstream(echo) as up, Proxy(tcp_config(up.port, admin=True)) as proxy:
    status, _, body = http1_request(proxy.admin_port, "GET", "/ready")
    check(status == 200 and body == b"LIVE\n", f"/ready before the drain answered {status} {body!r}")
    with connect(proxy.port("tcp")) as sock:
        sock.sendall(b"ping")
        check(recv_until(sock, 4) == b"ping", "the client connection was not echoed")
        proxy.proc.send_signal(signal.SIGTERM)
        check(wait_for(lambda: any("draining" in line for line in proxy.lines)), "the proxy never said it drains")
        status, _, body = http1_request(proxy.admin_port, "GET", "/ready")
check(
    status == 503 and body == b"DRAINING\n",
    f"/ready during the drain (SIGTERM sent, a client connection still open) answered {status} {body!r}",
)
ok("/ready answered 503 DRAINING while the proxy drained")
