"""max_request_headers_kb bounds the whole request head, its target included (HTTP/2 counts :path in
the header list, RFC 9113 6.5.2; Envoy's limit covers the request's header map, :path included):
with a 4 KiB limit, a GET whose target alone is 12 KiB gets a 431 on HTTP/1.1 and HTTP/2 and never
reaches the upstream, as a 12 KiB header would."""

from _live import H2Client, Proxy, Upstream, check, http1_app, http1_request, http_config, ok

TARGET = "/search?q=" + "a" * 12 * 1024
with (
    Upstream(http1_app(lambda request: (200, [], b"results"))) as up,
    Proxy(http_config(up.port, hcm={"max_request_headers_kb": 4})) as proxy,
):
    header = http1_request(proxy.port("web"), "GET", "/search", headers=[("x-filler", "a" * 12 * 1024)])[0]
    h1 = http1_request(proxy.port("web"), "GET", TARGET)[0]
    client = H2Client(proxy.port("web"))
    response = client.response(client.request("GET", TARGET))
    client.close()
    forwarded = len(up.requests)
h2 = response[0] if response is not None else None
check(header == 431, f"a 12 KiB header on a 4 KiB limit got {header}, not 431")
check(
    h1 == 431 and h2 == 431, f"a 12 KiB request target on a 4 KiB limit got {h1} (HTTP/1.1) and {h2} (HTTP/2), not 431"
)
check(forwarded == 0, f"{forwarded} over-limit requests reached the upstream")
ok("a 12 KiB target on a 4 KiB max_request_headers_kb got 431 on HTTP/1.1 and HTTP/2, like a 12 KiB header")
