"""HCM stats: an HTTP/2 request counts as downstream_rq_http2, an HTTP/1.1 one as downstream_rq_http1."""

from _live import H2Client, Proxy, Upstream, check, http1_app, http1_request, http_config, ok

with (
    Upstream(http1_app(lambda request: (200, [], b"hello"))) as up,
    Proxy(http_config(up.port, admin=True)) as proxy,
):
    port = proxy.port("web")
    http1_request(port, "GET", "/")
    client = H2Client(port)
    answer = client.response(client.request("GET", "/"))
    client.close()
    stats = proxy.stats()
check(answer is not None and answer[0] == 200, f"the HTTP/2 request got {answer}")
counted = {k: stats.get(f"http.downstream_rq_{k}", 0) for k in ("http1", "http2")}
check(counted == {"http1": 1, "http2": 1}, f"one HTTP/1.1 and one HTTP/2 request were counted as {counted}")
ok("one request counted per protocol")
