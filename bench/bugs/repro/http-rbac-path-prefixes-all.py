"""HTTP RBAC: a policy's path_prefixes match when ANY of them starts the path (Envoy: the permissions of
a policy are OR'ed), so a DENY policy listing /admin and /internal denies both."""

from _live import Proxy, Upstream, check, http1_app, http1_request, ok

CONFIG = """
listeners:
  - name: web
    address: {{host: 127.0.0.1, port: 0}}
    filter_chains:
      - filters:
          - http_connection_manager:
              http_filters:
                - rbac:
                    action: DENY
                    policies: [{{name: private, path_prefixes: ["/admin", "/internal"]}}]
              route_config:
                virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes: [{{match: {{prefix: "/"}}, route: {{cluster: app}}}}]
clusters:
  - name: app
    endpoints: [{{host: 127.0.0.1, port: {upstream}}}]
"""

with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(CONFIG.format(upstream=up.port)) as proxy:
    got = {path: http1_request(proxy.port("web"), "GET", path)[0] for path in ("/admin/users", "/internal/x", "/public")}
    reached = [r[1] for r in up.requests]
check(got["/public"] == 200, f"GET /public got {got['/public']}")
denied_wrongly = [p for p in ("/admin/users", "/internal/x") if got[p] != 403]
check(not denied_wrongly, f"the DENY policy with path_prefixes [/admin, /internal] let {denied_wrongly} through "
      f"(statuses {got}; the upstream saw {reached})")
ok(f"both prefixes of the DENY policy were denied, /public allowed: {got}")
