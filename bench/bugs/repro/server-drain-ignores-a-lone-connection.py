"""Drain on SIGTERM: the proxy stops accepting and lets the open connections finish (up to 5 s)
before it closes them, also when only one connection is open. Here one tcp_proxy client has sent
"ping" and waits for the upstream's "pong" when the proxy gets SIGTERM; the upstream answers half a
second later, well inside the drain, and the client must read it."""

import signal
import threading

from _live import Proxy, Upstream, check, connect, ok, recv_until, tcp_config, wait_for

answer = threading.Event()


def ping_pong(sock, log) -> None:
    log.append(recv_until(sock, 4))
    answer.wait(10)
    sock.sendall(b"pong")


with Upstream(ping_pong) as up, Proxy(tcp_config(up.port)) as proxy:
    with connect(proxy.port("tcp")) as client:
        client.sendall(b"ping")
        check(wait_for(lambda: any(up.connections) and up.connections[0]), "the upstream never read the ping")
        proxy.proc.send_signal(signal.SIGTERM)
        check(wait_for(lambda: any(" draining (" in line for line in proxy.lines)), "the proxy never began to drain")
        wait_for(lambda: False, timeout=0.5)  # the drain has begun: the open connection is left to finish
        answer.set()
        got = recv_until(client, 4)
    proxy.proc.wait(timeout=30)
    wait_for(lambda: False, timeout=0.2)  # the status reader takes the last lines
    cut = [line for line in proxy.lines if "drain ended early" in line or "drain timeout" in line]
check(
    got == b"pong",
    f"the one open connection got {got!r} after SIGTERM (b'pong' expected: the drain lets it finish); "
    f"the proxy said {cut}",
)
ok("the lone connection finished during the drain")
