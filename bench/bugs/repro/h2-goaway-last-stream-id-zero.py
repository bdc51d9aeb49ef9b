"""HTTP/2 graceful drain: the GOAWAY names as its last stream id every stream the proxy goes on to serve
(RFC 9113 6.8), so a request in flight is not reported as unprocessed."""

import signal
import time

import h2.events
from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok, wait_for


def slow(request):
    time.sleep(1.0)
    return 200, [], b"finished"


with Upstream(http1_app(slow)) as up, Proxy(http_config(up.port)) as proxy:
    client = H2Client(proxy.port("web"))
    goaways = []
    receive = client.conn.receive_data

    def watching(data):
        events = receive(data)
        goaways.extend(ev.last_stream_id for ev in events if isinstance(ev, h2.events.ConnectionTerminated))
        return events

    client.conn.receive_data = watching
    sid = client.request("GET", "/slow")
    check(wait_for(lambda: up.requests), "the request never reached the upstream")
    proxy.proc.send_signal(signal.SIGTERM)
    client.wait(lambda: goaways)
    client.close()
check(goaways, "no GOAWAY arrived after SIGTERM")
check(
    goaways[0] >= sid,
    f"the drain's GOAWAY named last stream id {goaways[0]} while stream {sid} was in flight and being served",
)
ok(f"the GOAWAY's last stream id {goaways[0]} covers the stream in flight ({sid})")
