"""merge_slashes merges the slashes of the path only: the query goes upstream as the client sent it
(Envoy's HttpConnectionManager.merge_slashes: "does not affect the query"; RFC 3986 3.4), so a
`?next=https://example.com/x` parameter keeps its `//`."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

TARGET = "/a//b?next=https://example.com//x"

with (
    Upstream(http1_app(lambda request: (200, [], b"ok"))) as up,
    Proxy(http_config(up.port, hcm={"merge_slashes": True})) as proxy,
):
    status, _, _ = http1_request(proxy.port("web"), "GET", TARGET)
check(status == 200 and len(up.requests) == 1, f"the request got {status}; the upstream saw {len(up.requests)}")
forwarded = up.requests[0][1]
check(
    forwarded == "/a/b?next=https://example.com//x",
    f"with merge_slashes, {TARGET!r} went upstream as {forwarded!r} (the path's slashes merged, the query kept)",
)
ok("merge_slashes merged the path's slashes and left the query alone")
