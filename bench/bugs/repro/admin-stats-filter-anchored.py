"""Admin /stats?filter=REGEX keeps the stats whose names the regular expression matches anywhere
(Envoy's admin: an RE2 partial match). After one request, filter=downstream_cx_total lists
listener.web.downstream_cx_total, as the unfiltered /stats does."""

import json

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(http_config(up.port, admin=True)) as proxy:
    status, _, _ = http1_request(proxy.port("web"), "GET", "/")
    check(status == 200, f"a plain GET got {status}")
    everything = proxy.stats()
    status, _, body = http1_request(proxy.admin_port, "GET", "/stats?format=json&filter=downstream_cx_total")
check(status == 200, f"/stats?filter=downstream_cx_total answered {status}")
names = [s["name"] for s in json.loads(body)["stats"]]
expected = sorted(n for n in everything if "downstream_cx_total" in n)
check(
    "listener.web.downstream_cx_total" in expected,
    f"the unfiltered /stats has no listener.web.downstream_cx_total: {sorted(everything)[:8]}",
)
check(
    names == expected,
    f"/stats?filter=downstream_cx_total listed {names}; the unfiltered /stats has {expected}",
)
ok(f"filter=downstream_cx_total listed the {len(names)} stats whose names contain it")
