"""A proxy forwards the Host (HTTP/2 :authority) the client sent unless a route says to rewrite it
(Envoy's host_rewrite_literal, auto_host_rewrite): origins behind one address serve many virtual
hosts, build redirects and absolute links from Host, and check it. Here a GET with `Host: shop.example`
must reach the upstream with that Host, not the endpoint's address."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

with (
    Upstream(http1_app(lambda request: (200, [], b"ok"))) as up,
    Proxy(http_config(up.port)) as proxy,
):
    status, _, _ = http1_request(proxy.port("web"), "GET", "/cart", headers=[("Host", "shop.example")])
    hosts = [value for request in up.requests for name, value in request[2] if name == "host"]
check(status == 200, f"the GET got {status}")
check(
    hosts == ["shop.example"],
    f"the client's `Host: shop.example` reached the upstream as {hosts}: the router replaced it with the "
    "endpoint's address without a host rewrite in the route",
)
ok("the upstream got the client's Host")
