"""Graceful drain: on SIGTERM the proxy stops accepting, but a request already in flight still gets its
response before its connection closes."""

import signal
import time

from _live import Proxy, Upstream, check, connect, http1_app, http_config, ok, read_response, request_bytes, wait_for


def slow(request):
    time.sleep(1.0)  # the drain starts while the upstream is still answering
    return 200, [], b"finished"


with Upstream(http1_app(slow)) as up, Proxy(http_config(up.port)) as proxy:
    with connect(proxy.port("web")) as sock:
        sock.sendall(request_bytes("GET", "/slow"))
        check(wait_for(lambda: up.requests), "the request never reached the upstream")
        proxy.proc.send_signal(signal.SIGTERM)
        answer = read_response(sock)
check(
    answer is not None and answer[0] == 200 and answer[2] == b"finished",
    f"a request in flight when the drain began got {answer} instead of its 200 response",
)
ok("the request in flight was answered during the drain")
