"""HTTP/2: a request whose HEADERS end the stream while declaring content-length > 0 is malformed (RFC
9113 8.1.1): the stream is reset and nothing reaches the upstream, and the proxy keeps serving."""

import time

from _live import H2Client, Proxy, Upstream, check, http1_app, http_config, ok

CONFIG = dict(codec="HTTP2")

with Upstream(http1_app(lambda request: (200, [], b"ok"))) as up, Proxy(http_config(up.port, **CONFIG)) as proxy:
    client = H2Client(proxy.port("web"))
    sid = client.request("POST", "/upload", headers=[("content-length", "10")])  # HEADERS with END_STREAM
    client.wait(lambda: client.streams[sid]["reset"] is not None or client.streams[sid]["ended"], timeout=2)
    first = dict(client.streams[sid])
    client.close()
    time.sleep(0.2)
    reached = [r[:2] for r in up.requests]
    after = H2Client(proxy.port("web"))
    check_sid = after.request("GET", "/still-there")
    still = after.response(check_sid)
    after.close()
    internal_errors = [line for line in proxy.lines if "Traceback" in line or "Error:" in line]
check(not reached, f"a request declaring content-length 10 with no body reached the upstream: {reached}")
check(
    first["reset"] is not None or 400 <= (first["status"] or 0) < 500,
    f"the malformed request was not refused as the client's error: status {first['status']} "
    f"{bytes(first['data'])[:40]!r}, reset {first['reset']}; the proxy logged {internal_errors[-1:]}",
)
check(still is not None and still[0] == 200, f"the proxy stopped serving after it: a new GET got {still}")
ok(f"the stream was refused (RST_STREAM {first['reset']}, status {first['status']}) and the proxy kept serving")
