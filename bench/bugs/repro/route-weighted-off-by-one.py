"""Weighted clusters: each cluster gets requests in proportion to its weight; with weights 1 and 1 both
clusters get some of 40 requests."""

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
                      - match: {{prefix: "/"}}
                        route: {{weighted_clusters: {{clusters: [{{name: blue, weight: 1}}, {{name: green, weight: 1}}]}}}}
clusters:
  - name: blue
    endpoints: [{{host: 127.0.0.1, port: {blue}}}]
  - name: green
    endpoints: [{{host: 127.0.0.1, port: {green}}}]
"""

with Upstream(http1_app(lambda r: (200, [], b"blue"))) as blue, Upstream(http1_app(lambda r: (200, [], b"green"))) as green, \
        Proxy(CONFIG.format(blue=blue.port, green=green.port)) as proxy:
    bodies = [http1_request(proxy.port("web"), "GET", f"/{i}")[2] for i in range(40)]
counts = {name: bodies.count(name.encode()) for name in ("blue", "green")}
check(counts["blue"] + counts["green"] == 40, f"not every request was answered: {counts}")
check(counts["blue"] >= 8 and counts["green"] >= 8,
      f"weights 1 and 1 split 40 requests as {counts}")
ok(f"weights 1:1 split 40 requests {counts}")
