"""normalize_path: the normalised path is the request's path for everything after it, the filters
(rbac), the route and the upstream (Envoy's normalize_path, the fix of CVE-2019-9901). A DENY policy
for /admin refuses /public/../admin, and a plain request goes upstream normalised."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

rbac = {"rbac": {"action": "DENY", "policies": [{"name": "no-admin", "path_prefixes": ["/admin"]}]}}
with (
    Upstream(http1_app(lambda request: (200, [], b"reached"))) as up,
    Proxy(http_config(up.port, filters=[rbac], hcm={"normalize_path": True})) as proxy,
):
    plain = http1_request(proxy.port("web"), "GET", "/docs/./a/../b")[0]
    sneaky = http1_request(proxy.port("web"), "GET", "/public/../admin/users")[0]
    reached = [r[1] for r in up.requests]
check(plain == 200, f"GET /docs/./a/../b got {plain}")
check(sneaky == 403, f"GET /public/../admin/users got {sneaky} under a DENY policy for /admin (upstream saw {reached})")
check(reached == ["/docs/b"], f"the upstream saw {reached}, not ['/docs/b']")
ok("/docs/./a/../b went upstream as /docs/b and /public/../admin/users was refused (403)")
