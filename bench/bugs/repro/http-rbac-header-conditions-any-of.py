"""HTTP rbac: a policy's header conditions must all match ("headers: all of"). An ALLOW policy for
`x-role: admin` and `x-tenant: acme` lets in a request with both, and refuses (403) one that
carries only `x-role: admin`."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

rbac = {
    "rbac": {
        "action": "ALLOW",
        "policies": [
            {
                "name": "acme-admins",
                "headers": [{"name": "x-role", "exact": "admin"}, {"name": "x-tenant", "exact": "acme"}],
            }
        ],
    }
}
with (
    Upstream(http1_app(lambda request: (200, [], b"secret"))) as up,
    Proxy(http_config(up.port, filters=[rbac])) as proxy,
):
    both, _, _ = http1_request(proxy.port("web"), "GET", "/", [("x-role", "admin"), ("x-tenant", "acme")])
    one, _, body = http1_request(proxy.port("web"), "GET", "/", [("x-role", "admin"), ("x-tenant", "other")])
check(both == 200, f"a request matching both header conditions got {both} instead of 200")
check(one == 403, f"a request matching only x-role (x-tenant: other) got {one} {body[:20]!r} instead of 403")
ok("the policy let in the request with both headers and refused the one with x-role alone (403)")
