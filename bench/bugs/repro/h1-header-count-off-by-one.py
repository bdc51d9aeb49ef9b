"""HTTP/1.1 header count limit (100 fields, Envoy's max_headers_count default): a request with exactly
100 fields is served, one with 101 gets 431."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok


def fields(n: int):
    return [("Host", "repro")] + [(f"x-f{i}", "v") for i in range(n - 1)]


with (
    Upstream(http1_app(lambda request: (200, [], b"hello"))) as up,
    Proxy(http_config(up.port)) as proxy,
):
    port = proxy.port("web")
    at_limit = http1_request(port, "GET", "/", headers=fields(100))[0]
    over = http1_request(port, "GET", "/", headers=fields(101))[0]
check(at_limit == 200, f"a request with 100 header fields (the limit) got {at_limit}")
check(over == 431, f"a request with 101 header fields got {over}")
ok("100 fields served, 101 refused with 431")
