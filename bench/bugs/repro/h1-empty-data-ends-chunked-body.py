"""HTTP/2 -> HTTP/1.1: an empty DATA frame in the middle of a request body carries no bytes, so the chunked
body the upstream receives must not end there (a zero-length chunk is the last-chunk, RFC 9112 7.1)."""

import time

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok

CONFIG = dict(codec="HTTP2")

with (
    Upstream(http1_app(lambda request: (200, [], b"got %d bytes" % len(request[3])))) as up,
    Proxy(http_config(up.port, **CONFIG)) as proxy,
):
    client = H2Client(proxy.port("web"))
    sid = client.request("POST", "/upload", body=b"")  # no content-length: chunked upstream
    time.sleep(0.3)  # the upstream request has started
    client.conn.send_data(sid, b"")  # an empty DATA frame, as streaming clients send
    client.conn.send_data(sid, b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", end_stream=True)
    client.flush()
    answer = client.response(sid)
    client.close()
    time.sleep(0.2)
    seen = [
        entry if isinstance(entry, str) else (entry[0], entry[1], entry[3]) for log in up.connections for entry in log
    ]
expected = [("POST", "/upload", b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")]
check(
    seen == expected,
    f"the upstream parsed {seen} from one POST whose body was sent as an empty DATA frame "
    "then the rest: the empty frame was forwarded as the chunked body's last-chunk",
)
ok(f"the upstream got one POST with the whole body; the client got {answer}")
