"""HTTP/2 MAX_CONCURRENT_STREAMS: a client may open streams before it has seen the server's SETTINGS
(RFC 9113 5.1.2); the stream over the limit is refused alone with RST_STREAM(REFUSED_STREAM) and the
streams within the limit are answered."""

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok

CONFIG = dict(codec="HTTP2", hcm={"http2_protocol_options": {"max_concurrent_streams": 2}})
REFUSED_STREAM = 0x7

with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    client = H2Client(proxy.port("web"))
    sids = []
    for i in range(3):  # three HEADERS in one write, before the server's SETTINGS
        sid = client.conn.get_next_available_stream_id()
        client.conn.send_headers(
            sid,
            [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/%d" % i)],
            end_stream=True,
        )
        client.streams[sid] = {"status": None, "headers": [], "data": bytearray(), "ended": False, "reset": None}
        sids.append(sid)
    client.flush()
    client.wait(lambda: all(client.streams[s]["ended"] or client.streams[s]["reset"] is not None for s in sids), 3)
    outcome = [(client.streams[s]["status"], client.streams[s]["reset"]) for s in sids]
    goaway = client.goaway
    client.close()
check(
    goaway is None,
    f"one stream over max_concurrent_streams 2 got the whole connection closed: GOAWAY error code "
    f"{goaway}, streams {outcome}",
)
check(
    outcome[:2] == [(200, None), (200, None)] and outcome[2] == (None, REFUSED_STREAM),
    f"expected two answered streams and the third refused (RST_STREAM 7); got {outcome}",
)
ok("the stream over the limit was refused alone; the other two were answered")
