"""HTTP rbac: a policy's methods are HTTP methods as requests carry them (RFC 9110 9.1: case-sensitive,
the standard ones uppercase). A DENY policy for DELETE refuses (403) a DELETE and lets a GET through."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

rbac = {"rbac": {"action": "DENY", "policies": [{"name": "no-deletes", "methods": ["DELETE"]}]}}
with (
    Upstream(http1_app(lambda request: (200, [], b"done"))) as up,
    Proxy(http_config(up.port, filters=[rbac])) as proxy,
):
    get = http1_request(proxy.port("web"), "GET", "/items/7")[0]
    delete = http1_request(proxy.port("web"), "DELETE", "/items/7")[0]
    reached = [r[0] for r in up.requests]
check(get == 200, f"a GET under a DENY policy for DELETE got {get} instead of 200")
check(delete == 403, f"a DELETE under a DENY policy for DELETE got {delete} instead of 403 (upstream saw {reached})")
ok("the DENY policy for DELETE refused the DELETE (403) and let the GET through")
