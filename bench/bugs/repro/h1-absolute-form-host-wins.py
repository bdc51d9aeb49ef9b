"""An absolute-form request target names the host (RFC 9112 3.2.2: the server ignores Host then): a
request for http://admin.internal/ is routed by the virtual host of admin.internal, here a 403."""

import json

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

config = json.loads(http_config(0))
config["listeners"][0]["filter_chains"][0]["filters"][0]["http_connection_manager"]["route_config"] = {
    "virtual_hosts": [
        {
            "name": "admin",
            "domains": ["admin.internal"],
            "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 403, "body": "admin is closed"}}],
        },
        {"name": "public", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "app"}}]},
    ]
}
with Upstream(http1_app(lambda req: (200, [], b"public"))) as up:
    config["clusters"][0]["endpoints"][0]["port"] = up.port
    with Proxy(json.dumps(config)) as proxy:
        status, _, body = http1_request(
            proxy.port("web"), "GET", "http://admin.internal/", headers=[("Host", "public.example")]
        )
check(
    status == 403 and not up.requests,
    f"GET http://admin.internal/ with Host: public.example got {status} {body[:40]!r}; the upstream saw "
    f"{[(r[1], dict(r[2]).get('host')) for r in up.requests]}",
)
ok("the absolute-form target's authority chose the virtual host (403), not Host")
