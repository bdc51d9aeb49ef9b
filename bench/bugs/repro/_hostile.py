"""What the issue 13 repros share: the proxy routing exact "/admin" to a direct 403 and the rest to an
HTTP/1.1 origin, one raw TCP write from a client, and the proxy's reaction as the live catalog reads
it (tests/e2e/wire.py: HTTP/1.1 statuses, HTTP/2 :status / RST_STREAM per stream).

    reaction, seen = send(b"GET /admin#x HTTP/1.1\\r\\nHost: h\\r\\n\\r\\n")
"""

import sys

from _live import ROOT, Proxy, Upstream, http1_app

sys.path.insert(0, str(ROOT / "tests"))
from e2e.wire import PREFACE, PROTOCOL_ERROR, exchange, hx  # noqa: E402,F401

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
                      - {{match: {{path: "/admin"}}, direct_response: {{status: 403, body: "admin is internal"}}}}
                      - {{match: {{prefix: "/"}}, route: {{cluster: app}}}}
clusters:
  - name: app
    endpoints: [{{host: 127.0.0.1, port: {upstream}}}]
"""


def send(payload: bytes):
    """(the reaction, the requests the origin saw as (method, target, headers, body))."""
    with (
        Upstream(http1_app(lambda request: (200, [], b"origin"))) as up,
        Proxy(CONFIG.format(upstream=up.port)) as proxy,
    ):
        h2 = payload.startswith(PREFACE)
        reaction = exchange(
            ("127.0.0.1", proxy.port("web")),
            payload,
            lambda r: 1 in r.ended or 1 in r.rst if h2 else len(r.statuses) >= 1,
            timeout=5.0,
        )
        return reaction, list(up.requests)
