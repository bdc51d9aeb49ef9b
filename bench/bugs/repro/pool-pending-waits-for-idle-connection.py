"""Connection pool: a request queued because the HTTP/2 upstream's SETTINGS_MAX_CONCURRENT_STREAMS is
reached goes out as soon as one of its streams ends, even if another stream stays open."""

import threading
import time

from h2.settings import SettingCodes

from _live import Proxy, Responses, Upstream, check, connect, h2_app, http_config, ok, request_bytes, wait_for

CONFIG = dict(cluster={"protocol": "HTTP2", "max_connections": 1})


second_sent = threading.Event()


def respond(path):
    if path == "/watch":
        return None  # a long poll: its stream stays open
    if path == "/first":
        second_sent.wait(5)  # answer once /second waits in the proxy's queue
        time.sleep(0.2)
    return 200, b"done " + path.encode()


with (
    Upstream(h2_app(respond, {SettingCodes.MAX_CONCURRENT_STREAMS: 2})) as up,
    Proxy(http_config(up.port, **CONFIG)) as proxy,
):
    port = proxy.port("web")
    clients = {}
    for path in ("/watch", "/first", "/second"):
        clients[path] = connect(port)
        clients[path].sendall(request_bytes("GET", path))
        if path != "/second":
            wait_for(lambda: path in [p for log in up.connections for p in log])
    second_sent.set()
    first = Responses(clients["/first"]).next()
    second = Responses(clients["/second"]).next()
    seen = [p for log in up.connections for p in log]
    for sock in clients.values():
        sock.close()
check(first is not None and first[0] == 200, f"/first got {first} (upstream saw {seen})")
check(
    second is not None and second[0] == 200,
    f"/second, queued while the upstream's 2 streams were in use, got {second} after /first ended: the "
    f"freed stream slot was never used while /watch stayed open (upstream saw {seen})",
)
ok("the queued request went out as soon as /first freed a stream slot")
