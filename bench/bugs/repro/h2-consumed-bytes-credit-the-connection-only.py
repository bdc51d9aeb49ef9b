"""HTTP/2 flow control has two windows for every DATA frame, the stream's and the connection's (RFC
9113 6.9); a receiver that has processed bytes gives the credit back on both, or the sender's stream
window runs dry and the stream stalls for good. Here an HTTP/2 client uploads a 256 KiB POST (four
times the default 65,535-byte stream window) through the proxy to an HTTP/1.1 upstream: the whole
body must get through and be answered."""

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok

BODY = bytes(range(256)) * 1024  # 256 KiB

with (
    Upstream(http1_app(lambda request: (200, [], str(len(request[3])).encode()))) as up,
    Proxy(http_config(up.port)) as proxy,
):
    client = H2Client(proxy.port("web"))
    sid = client.request("POST", "/upload", body=BODY)
    sent = client.send(sid, BODY, timeout=5.0)
    answer = client.response(sid) if sent else None
    client.close()
check(
    sent,
    "the 256 KiB upload stalled: the proxy's stream window for it stayed shut after the first 64 KiB "
    "(the consumed bytes were credited to the connection only)",
)
check(answer == (200, str(len(BODY)).encode()), f"the upload was answered {answer}, not 200 with its length")
ok("the 256 KiB HTTP/2 upload went through (200)")
