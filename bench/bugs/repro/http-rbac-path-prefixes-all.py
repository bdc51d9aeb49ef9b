"""HTTP RBAC: a policy's path_prefixes match when ANY of them starts the path (Envoy: the permissions of
a policy are OR'ed), so a DENY policy listing /admin and /internal denies both."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

CONFIG = dict(
    filters=[{"rbac": {"action": "DENY", "policies": [{"name": "private", "path_prefixes": ["/admin", "/internal"]}]}}]
)

with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    got = {
        path: http1_request(proxy.port("web"), "GET", path)[0] for path in ("/admin/users", "/internal/x", "/public")
    }
    reached = [r[1] for r in up.requests]
check(got["/public"] == 200, f"GET /public got {got['/public']}")
denied_wrongly = [p for p in ("/admin/users", "/internal/x") if got[p] != 403]
check(
    not denied_wrongly,
    f"the DENY policy with path_prefixes [/admin, /internal] let {denied_wrongly} through "
    f"(statuses {got}; the upstream saw {reached})",
)
ok(f"both prefixes of the DENY policy were denied, /public allowed: {got}")
