"""Virtual host selection: host names are case-insensitive (RFC 9110 4.2.3), so `Host: ADMIN.example.com`
selects the virtual host listing admin.example.com."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

CONFIG = dict(
    hcm={
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "admin",
                    "domains": ["admin.example.com"],
                    "routes": [
                        {"match": {"prefix": "/"}, "direct_response": {"status": 403, "body": "admin is internal"}}
                    ],
                },
                {
                    "name": "public",
                    "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "app"}}],
                },
            ]
        }
    }
)

with (
    Upstream(http1_app(lambda request: (200, [], b"public site"))) as up,
    Proxy(http_config(up.port, **CONFIG)) as proxy,
):
    port = proxy.port("web")
    results = {
        host: http1_request(port, "GET", "/users", headers=[("Host", host)])[0]
        for host in ("admin.example.com", "ADMIN.Example.COM")
    }
    reached = [r[1] for r in up.requests]
check(results["admin.example.com"] == 403, f"Host: admin.example.com got {results['admin.example.com']}")
check(
    results["ADMIN.Example.COM"] == 403,
    f"Host: ADMIN.Example.COM got {results['ADMIN.Example.COM']} from the catch-all virtual host "
    f"(the upstream saw {reached}); host names are case-insensitive",
)
ok("both spellings of the host reached the admin virtual host (403)")
