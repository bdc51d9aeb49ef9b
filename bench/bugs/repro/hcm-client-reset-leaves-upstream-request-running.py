"""A client that goes away before its response ends its stream, and the proxy resets the upstream
request it made for it (Envoy: a downstream reset resets the upstream request; CVE-2023-44487 is
what happens when cancelled work keeps running). Here the upstream holds its answer; the client
sends a whole request and closes its connection: the upstream's connection must be closed too."""

import threading

from _live import Proxy, Upstream, broken, check, connect, http_config, ok, read_head

closed = threading.Event()
arrived = threading.Event()


def silent(sock, log) -> None:
    if not read_head(sock):
        return
    arrived.set()
    sock.settimeout(4)
    try:
        while sock.recv(65536):
            pass
        closed.set()  # the proxy closed its upstream connection: the request was abandoned
    except OSError:
        pass


with Upstream(silent) as up, Proxy(http_config(up.port, route={"timeout_ms": 8000})) as proxy:
    with connect(proxy.port("web")) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: repro\r\n\r\n")
        if not arrived.wait(5):
            broken("the request did not reach the upstream")
    gone = closed.wait(3)
check(gone, "the client closed its connection and the proxy kept the upstream request running for 3 s")
ok("the client went away and the proxy closed the upstream connection of its request")
