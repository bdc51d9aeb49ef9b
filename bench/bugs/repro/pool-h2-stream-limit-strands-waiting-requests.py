"""Requests that wait for an HTTP/2 upstream connection whose SETTINGS are not in yet must get
connections of their own when the SETTINGS arrive with no room for them: Envoy's pool counts a
connecting HTTP/2 connection as capacity for the requests queued behind it, and when the peer's
SETTINGS_MAX_CONCURRENT_STREAMS turns out lower it opens connections for the rest (onSettings). Here
the upstream allows one stream per connection and holds its SETTINGS back until a second request
queues; it answers the first request only once the second one reached it (3 s at most). The second
request must arrive while the first is still open, on a second connection."""

import threading

import h2.config
import h2.connection
import h2.events
import h2.settings

from _live import Proxy, Upstream, broken, check, http1_request, http_config, ok, wait_for

second_arrived = threading.Event()
first_seen = threading.Event()
admin: dict = {}
accepted: list = []


def pending() -> int:
    return admin["proxy"].stats().get("cluster.app.upstream_rq_pending_active", 0)


def serve(sock, log) -> None:
    first_connection = not accepted
    accepted.append(True)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    conn.local_settings = h2.settings.Settings(
        client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1}
    )
    if not first_connection:
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
    while True:
        data = sock.recv(65536)
        if not data:
            return
        for ev in conn.receive_data(data):
            if not isinstance(ev, h2.events.RequestReceived):
                continue
            path = dict(ev.headers)[b":path"]
            log.append(path)
            if path == b"/second":
                second_arrived.set()
                body = b"second"
            else:
                first_seen.set()
                wait_for(lambda: pending() == 1)  # the second request queued behind this connection
                conn.initiate_connection()  # our SETTINGS only now: one stream per connection
                sock.sendall(conn.data_to_send())
                body = b"first, with the second open" if second_arrived.wait(3.0) else b"first, alone"
            conn.send_headers(ev.stream_id, [(b":status", b"200"), (b"content-length", str(len(body)).encode())])
            conn.send_data(ev.stream_id, body, end_stream=True)
        sock.sendall(conn.data_to_send())


answers: dict = {}
with Upstream(serve) as up, Proxy(http_config(up.port, cluster={"protocol": "HTTP2"}, admin=True)) as proxy:
    admin["proxy"] = proxy
    port = proxy.port("web")
    first = threading.Thread(target=lambda: answers.update(first=http1_request(port, "GET", "/first", timeout=10)))
    first.start()
    if not first_seen.wait(5):
        broken("the first request did not reach the upstream")
    second = threading.Thread(target=lambda: answers.update(second=http1_request(port, "GET", "/second", timeout=10)))
    second.start()
    first.join()
    second.join()
check(answers["second"][0] == 200, f"the second request got {answers['second'][0]}")
check(
    answers["first"][:3:2] == (200, b"first, with the second open"),
    f"the second request waited for the first one's stream ({len(accepted)} upstream connection(s)): the "
    "upstream's SETTINGS left no room on the connection it had queued for, and it got no connection of its own",
)
ok("the request queued behind a connection with no room got a second connection when the SETTINGS came")
