"""HTTP/2 flow control: body bytes a client sends on a stream the proxy already answered (a 403 before
the upload ended) are still acknowledged, so the connection window recovers and the next request
on the same connection can send its body."""

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok

CONFIG = dict(
    codec="HTTP2",
    routes=[
        {"match": {"prefix": "/denied"}, "direct_response": {"status": 403, "body": "no uploads here"}},
        {"match": {"prefix": "/"}, "route": {"cluster": "app"}},
    ],
)
WINDOW = 65535  # RFC 9113 initial connection window; the proxy's default stream window too

with (
    Upstream(http1_app(lambda request: (200, [], b"got %d bytes" % len(request[3])))) as up,
    Proxy(http_config(up.port, **CONFIG)) as proxy,
):
    client = H2Client(proxy.port("web"))
    denied = client.request("POST", "/denied/upload", body=b"")
    check(client.wait(lambda: client.streams[denied]["status"] is not None), "the early 403 for the upload never came")
    check(client.send(denied, b"x" * WINDOW), "the client could not send the rest of its upload")
    upload = client.request("POST", "/accepted", body=b"")
    sent = client.send(upload, b"y" * 1000, timeout=3)
    answer = client.response(upload, timeout=3)
    client.close()
check(
    sent,
    f"after {WINDOW} body bytes on a stream answered early, the connection window was never "
    "credited back: the next request on the connection cannot send its 1000-byte body",
)
check(answer is not None and answer[0] == 200, f"the second upload got {answer}")
ok(f"the {WINDOW} bytes after the early 403 were acknowledged; the next upload got {answer[1]!r}")
