"""normalize_path with merge_slashes: dot segments are removed first (RFC 3986 5.2.4), then slashes merged,
as Envoy documents, so `/a//../b` is forwarded as `/a/b`."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

HCM = {"normalize_path": True, "merge_slashes": True}

with (
    Upstream(http1_app(lambda request: (200, [], b"reached"))) as up,
    Proxy(http_config(up.port, hcm=HCM)) as proxy,
):
    status = http1_request(proxy.port("web"), "GET", "/a//../b?x=1")[0]
    reached = [r[1] for r in up.requests]
check(status == 200, f"GET /a//../b got {status}")
check(reached == ["/a/b?x=1"], f"GET /a//../b?x=1 was forwarded as {reached}, not ['/a/b?x=1']")
ok("/a//../b?x=1 was forwarded as /a/b?x=1")
