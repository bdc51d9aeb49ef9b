"""path_with_escaped_slashes_action REJECT_REQUEST: a path with an escaped slash gets a 400 whether the
hex digits are upper or lower case (RFC 3986 2.1), so `/admin%2Fusers` never reaches the upstream."""

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

HCM = {"path_with_escaped_slashes_action": "REJECT_REQUEST"}

with (
    Upstream(http1_app(lambda request: (200, [], b"reached"))) as up,
    Proxy(http_config(up.port, hcm=HCM)) as proxy,
):
    port = proxy.port("web")
    results = {
        target: http1_request(port, "GET", target)[0] for target in ("/admin%2fusers", "/admin%2Fusers", "/a%5Cb")
    }
    reached = [r[1] for r in up.requests]
for target, status in results.items():
    check(status == 400, f"GET {target} got {status} with REJECT_REQUEST (the upstream saw {reached})")
ok("every escaped slash, in either case, was refused with 400")
