"""Envoy's RBAC: with action ALLOW a request is allowed only when a policy matches, so an ALLOW filter
with no policies denies every request (and DENY with none allows every one). An empty allow list is
how an operator shuts a route until its policies are written: it must never open it."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

deny_all = {"rbac": {"action": "ALLOW", "policies": []}}
allow_all = {"rbac": {"action": "DENY", "policies": []}}

with Upstream(http1_app(lambda request: (200, [], b"secret"))) as up:
    with Proxy(http_config(up.port, filters=[deny_all])) as proxy:
        denied, _, _ = http1_request(proxy.port("web"), "GET", "/admin")
    with Proxy(http_config(up.port, filters=[allow_all])) as proxy:
        allowed, _, _ = http1_request(proxy.port("web"), "GET", "/admin")
check(allowed == 200, f"RBAC DENY with no policies answered {allowed}, not 200")
check(denied == 403, f"RBAC ALLOW with no policies answered {denied}: a request matching no policy was let through")
ok("RBAC ALLOW with no policies denied the request (403); DENY with none allowed it (200)")
