"""RFC 9113 8.3.2: an HTTP/2 response's :status is exactly three digits; a response with any other
:status is malformed (8.1.1) and is not forwarded: the proxy answers 503 (UPE), as Envoy does. Python's
int() reads "0200", "+200", "2_00" and "00200" as 200: each must still be refused, not passed on."""

from _live import Proxy, Upstream, check, h2_app, http1_request, http_config, ok

STATUSES = ["0200", "+200", "2_00", "00200"]


raw_status = h2_app(lambda path: (STATUSES[int(path[1:])], b"hi"), validate=False)  # str(status) is sent
with Upstream(raw_status) as up, Proxy(http_config(up.port, cluster={"protocol": "HTTP2"})) as proxy:
    answers = {raw: http1_request(proxy.port("web"), "GET", f"/{i}")[0] for i, raw in enumerate(STATUSES)}
forwarded = {raw: status for raw, status in answers.items() if status != 503}
check(not forwarded, f"HTTP/2 responses whose :status is not three digits were forwarded as {forwarded}")
ok(f"every :status that is not three digits was refused with 503: {sorted(answers)}")
