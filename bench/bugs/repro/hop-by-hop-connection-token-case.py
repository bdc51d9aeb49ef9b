"""Hop-by-hop fields: a field the client names in Connection is meant for the proxy alone and is removed
before forwarding (RFC 9110 7.6.1), whatever the case of its name in the Connection list."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

CONFIG = dict()

with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    for option in ("x-proxy-hint", "X-Proxy-Hint"):
        status, _, _ = http1_request(
            proxy.port("web"),
            "GET",
            f"/{option}",
            headers=[("Connection", f"keep-alive, {option}"), ("X-Proxy-Hint", "internal")],
        )
        check(status == 200, f"the request naming {option} in Connection got {status}")
    forwarded = {target: [n for n, _ in headers if n == "x-proxy-hint"] for _, target, headers, *_ in up.requests}
leaked = [target for target, names in forwarded.items() if names]
check(
    not leaked,
    f"x-proxy-hint, named in Connection, reached the upstream for {leaked} (requests seen: {sorted(forwarded)})",
)
ok("x-proxy-hint was removed whether Connection named it in lower or mixed case")
