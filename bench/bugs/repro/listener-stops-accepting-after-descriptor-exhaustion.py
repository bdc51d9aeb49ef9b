"""A listener out of file descriptors (accept(2): EMFILE) pauses and then accepts again, as Envoy's
and asyncio's accept loops do: once the clients holding the descriptors have gone, new connections
are served. Live: the proxy runs with a soft limit of 40 descriptors, tcp_proxy in front of an echo
upstream; 40 clients connect (each accepted one costs the proxy two descriptors), the proxy says it
could not accept; all of them leave; a new client must then be echoed."""

import resource
import time

from _live import Proxy, Upstream, broken, check, connect, echo, ok, recv_until, tcp_config, wait_for

LIMIT = 40
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
with Upstream(echo) as up:
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, hard))  # the proxy process inherits it
    try:
        proxy = Proxy(tcp_config(up.port)).__enter__()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        clients = []
        for _ in range(LIMIT):
            sock = connect(proxy.port("tcp"))
            sock.sendall(b"x")
            clients.append(sock)
        if not wait_for(lambda: any("accept failed" in line for line in proxy.lines), timeout=10.0):
            broken(f"{LIMIT} clients did not exhaust the proxy's {LIMIT} descriptors: " + " | ".join(proxy.lines[-3:]))
        for sock in clients:
            sock.close()
        time.sleep(2.0)  # the clients' descriptors are freed; the listener's one-second pause is over
        with connect(proxy.port("tcp")) as sock:
            sock.sendall(b"ping")
            echoed = recv_until(sock, 4, timeout=10.0)
    finally:
        proxy.__exit__(None, None, None)
check(
    echoed == b"ping",
    f"after running out of descriptors and getting them back, the listener served a new client {echoed!r}, "
    "not b'ping': it stopped accepting",
)
ok("after running out of descriptors the listener accepted and served a new client")
