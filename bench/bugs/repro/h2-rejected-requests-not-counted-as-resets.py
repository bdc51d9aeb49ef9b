"""Requests the proxy itself rejects and resets count towards the rapid-reset limit ("MadeYouReset",
CVE-2025-8671): an HTTP/2 client that opens stream after stream with a request the proxy must refuse
(a `#fragment` in :path, RST_STREAM(PROTOCOL_ERROR) each) costs the proxy a stream and an RST_STREAM
per frame, like a client resetting its own streams. More than 50 of its last 100 streams reset before
their response must end the connection with GOAWAY(ENHANCE_YOUR_CALM)."""

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok

ENHANCE_YOUR_CALM = 0x0B
REJECTED = 80

with (
    Upstream(http1_app(lambda request: (200, [], b"hi"))) as up,
    Proxy(http_config(up.port, codec="HTTP2")) as proxy,
):
    client = H2Client(proxy.port("web"), validate=False)
    for _ in range(REJECTED):
        if client.closed:
            break
        client.request("GET", "/page#fragment")
        client.read(0.01)
    client.wait(lambda: client.goaway is not None, timeout=2.0)
    resets = sum(1 for st in client.streams.values() if st["reset"] is not None)
    client.close()
    forwarded = len(up.requests)
check(forwarded == 0, f"{forwarded} requests with a #fragment in :path reached the upstream")
check(
    client.goaway == ENHANCE_YOUR_CALM,
    f"{len(client.streams)} streams opened, {resets} reset by the proxy as malformed, and the connection "
    f"was not ended for it (GOAWAY: {client.goaway})",
)
ok(f"the proxy ended the connection with GOAWAY(ENHANCE_YOUR_CALM) after {resets} streams it had to reset")
