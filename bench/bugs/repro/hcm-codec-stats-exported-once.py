"""Codec counters follow what the clients saw: three malformed HTTP/2 requests on one connection, each
refused with RST_STREAM(PROTOCOL_ERROR), make `http.h2_rejected_request` 3."""

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok, wait_for

with Upstream(http1_app(lambda req: (200, [], b"ok"))) as up, Proxy(http_config(up.port, admin=True)) as proxy:
    client = H2Client(proxy.port("web"))
    sids = []
    for i in range(3):  # one at a time: three in one read would be exported together
        sids.append(client.request("GET", f"/bad#{i}"))
        client.wait(lambda: client.streams[sids[-1]]["reset"] is not None)
    resets = [client.streams[s]["reset"] for s in sids]
    good = client.request("GET", "/good")
    answer = client.response(good)
    client.close()
    wait_for(lambda: proxy.stats().get("http.h2_rejected_request", 0) >= 3, timeout=1.0)
    counted = proxy.stats().get("http.h2_rejected_request", 0)
check(resets == [1, 1, 1], f"the three requests with a fragment got RST_STREAM codes {resets}, not PROTOCOL_ERROR")
check(answer is not None and answer[0] == 200, f"the good request after them got {answer}")
check(counted == 3, f"3 requests were refused with RST_STREAM(PROTOCOL_ERROR), http.h2_rejected_request is {counted}")
ok("http.h2_rejected_request counted each of the 3 refused requests")
