"""`http.downstream_rq_active` counts the requests in flight (Envoy's gauge of the same name): a request
whose client goes away before its answer (a reset stream) leaves it, as an answered one does, so the gauge
is back at 0 once no request is open. Monitoring, autoscaling and drain scripts read it."""

from _live import Proxy, Upstream, check, connect, http1_app, http1_request, http_config, ok, wait_for

with (
    Upstream(http1_app(lambda request: None if request[1] == "/hang" else (200, [], b"ok"))) as up,
    Proxy(http_config(up.port, admin=True)) as proxy,
):
    status, _, _ = http1_request(proxy.port("web"), "GET", "/answered")
    check(status == 200, f"a plain GET got {status}")
    with connect(proxy.port("web")) as sock:
        sock.sendall(b"GET /hang HTTP/1.1\r\nHost: repro\r\n\r\n")
        wait_for(lambda: any(r[1] == "/hang" for r in up.requests))
    # the client left: its stream is reset (http.downstream_rq_reset)
    wait_for(lambda: proxy.stats().get("http.downstream_rq_reset", 0) >= 1)
    stats = proxy.stats()
active, resets = stats.get("http.downstream_rq_active"), stats.get("http.downstream_rq_reset")
check(resets == 1, f"the abandoned request was not counted as a reset (http.downstream_rq_reset {resets})")
check(
    active == 0,
    f"http.downstream_rq_active is {active} with no request open (one answered, one reset by its client)",
)
ok("http.downstream_rq_active went back to 0 after an answered and a reset request")
