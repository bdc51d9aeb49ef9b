"""HTTP/2 empty-frame flood (CVE-2019-9518): DATA frames that carry nothing and do not end the stream
have no use; more than one in a row (Envoy's max_consecutive_inbound_frames_with_empty_payload,
default 1) gets the connection closed with GOAWAY(ENHANCE_YOUR_CALM)."""

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok

CONFIG = dict(codec="HTTP2")
ENHANCE_YOUR_CALM = 0xB

with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    client = H2Client(proxy.port("web"))
    sid = client.request("POST", "/upload", body=b"")
    for _ in range(1000):
        client.conn.send_data(sid, b"")
    client.flush()
    client.wait(lambda: client.closed, timeout=3)
    goaway = client.goaway
    client.close()
check(
    goaway == ENHANCE_YOUR_CALM,
    f"1000 empty DATA frames in a row got GOAWAY error code {goaway}, not ENHANCE_YOUR_CALM ({ENHANCE_YOUR_CALM})",
)
ok("the empty-frame flood was answered with GOAWAY(ENHANCE_YOUR_CALM)")
