"""normalize_path (RFC 3986 normalisation) decodes percent-encoded unreserved characters before it
removes dot segments: `%2e%2e` is `..` (RFC 3986 2.3 and 6.2.2.2), so `/public/%2e%2e/admin/keys`
is `/admin/keys` to the proxy's RBAC and router and to the upstream alike. An RBAC policy that
denies `/admin` must deny it; no forwarded path may still hold a `..` segment."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

RBAC = {"rbac": {"action": "DENY", "policies": [{"name": "no-admin", "path_prefixes": ["/admin"]}]}}
with (
    Upstream(http1_app(lambda request: (200, [], b"served " + request[1].encode()))) as up,
    Proxy(http_config(up.port, filters=[RBAC], hcm={"normalize_path": True})) as proxy,
):
    plain = http1_request(proxy.port("web"), "GET", "/admin/keys")[0]
    encoded = http1_request(proxy.port("web"), "GET", "/public/%2e%2e/admin/keys")[0]
    forwarded = [target for _, target, *_ in up.requests]
check(plain == 403, f"GET /admin/keys got {plain}, not the RBAC 403")
dotted = [t for t in forwarded if ".." in t.split("?")[0].split("/")]
check(not dotted, f"normalize_path on: the upstream received {dotted} (a '..' segment left after normalisation)")
check(encoded == 403, f"GET /public/%2e%2e/admin/keys (= /admin/keys) got {encoded}, not the RBAC 403")
ok("/public/%2e%2e/admin/keys was normalised to /admin/keys and denied like /admin/keys")
