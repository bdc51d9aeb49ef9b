"""Route safe_regex: the expression must match the whole path (Envoy's safe_regex is a full match), not
a piece of it."""

from _live import Proxy, Upstream, check, http1_app, http1_request, ok

CONFIG = """
listeners:
  - name: web
    address: {{host: 127.0.0.1, port: 0}}
    filter_chains:
      - filters:
          - http_connection_manager:
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                      - {{match: {{safe_regex: {{regex: "/internal/[a-z]+"}}}}, direct_response: {{status: 403, body: "internal"}}}}
                      - {{match: {{prefix: "/"}}, route: {{cluster: app}}}}
clusters:
  - name: app
    endpoints: [{{host: 127.0.0.1, port: {upstream}}}]
"""

with Upstream(http1_app(lambda request: (200, [], b"public"))) as up, Proxy(CONFIG.format(upstream=up.port)) as proxy:
    got = {path: http1_request(proxy.port("web"), "GET", path)[0]
           for path in ("/internal/stats", "/docs/internal/howto", "/internal/stats.json")}
check(got["/internal/stats"] == 403, f"GET /internal/stats got {got['/internal/stats']}")
wrong = {p: s for p, s in got.items() if p != "/internal/stats" and s != 200}
check(not wrong, f"paths the regex /internal/[a-z]+ does not match as a whole took its route: {wrong}")
ok(f"only the whole-path match took the regex route: {got}")
