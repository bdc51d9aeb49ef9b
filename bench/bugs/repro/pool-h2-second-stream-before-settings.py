"""HTTP/2 upstream pool: until the upstream's SETTINGS arrive its stream limit is unknown, so one
stream goes with the preface and the others wait for it (docs/semantics.md). Two requests that
reach the proxy together, for an upstream that allows one stream at a time, are both answered:
the second gets a connection of its own instead of being refused by the upstream."""

import h2.settings

from _live import H2Client, Proxy, Upstream, check, h2_app, http_config, ok

one_stream = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1}
with (
    Upstream(h2_app(lambda path: (200, path.encode()), settings=one_stream)) as up,
    Proxy(http_config(up.port, codec="HTTP2", cluster={"protocol": "HTTP2"})) as proxy,
):
    client = H2Client(proxy.port("web"))
    sids = []
    for path in ("/first", "/second"):  # both HEADERS in one write: the proxy reads them together
        sid = client.conn.get_next_available_stream_id()
        block = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"repro"), (b":path", path.encode())]
        client.conn.send_headers(sid, block, end_stream=True)
        client.streams[sid] = {"status": None, "headers": [], "data": bytearray(), "ended": False, "reset": None}
        sids.append(sid)
    client.flush()
    answers = [client.response(sid) for sid in sids]
    client.close()
    upstream_errors = [entry for log in up.connections for entry in log if isinstance(entry, str) and "error" in entry]
check(
    all(a is not None and a[0] == 200 for a in answers),
    f"two requests sent together got {answers} (upstream: {upstream_errors[:1]}): the proxy sent both on one "
    "connection before the upstream's SETTINGS (limit 1)",
)
ok(f"both requests were answered ({[a[1] for a in answers]}), {len(up.connections)} upstream connection(s)")
