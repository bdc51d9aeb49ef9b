"""SETTINGS_MAX_CONCURRENT_STREAMS N lets a client have N streams open (RFC 9113 5.1.2): with
`max_concurrent_streams: 2`, two requests in flight at once are both served."""

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok

HCM = {"http2_protocol_options": {"max_concurrent_streams": 2}}

with Upstream(http1_app(lambda req: (200, [], b"ok"))) as up, Proxy(http_config(up.port, hcm=HCM)) as proxy:
    client = H2Client(proxy.port("web"))
    first = client.request("POST", "/a", body=b"")
    second = client.request("POST", "/b", body=b"")
    client.send(first, b"one")
    client.send(second, b"two")
    answers = [client.response(first), client.response(second)]
    resets = [client.streams[s]["reset"] for s in (first, second)]
    client.close()
check(
    all(a is not None and a[0] == 200 for a in answers),
    f"with max_concurrent_streams 2, two streams in flight got {answers} (RST_STREAM codes {resets})",
)
ok("two streams in flight under max_concurrent_streams 2 were both served")
