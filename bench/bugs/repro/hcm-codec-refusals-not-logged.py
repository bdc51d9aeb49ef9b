"""Every request the proxy answers leaves an access log line, those its HTTP/1.1 codec refuses before
they became a stream included (Envoy logs the codec's error replies, flag DPE): a smuggling attempt
(Content-Length with Transfer-Encoding, RFC 9112 6.1) gets its 400 and a record, or nobody can
see it was tried."""

import json
import tempfile
import time
from pathlib import Path

from _live import Proxy, Upstream, check, exchange, http1_app, http1_request, http_config, ok

SMUGGLE = (
    b"POST / HTTP/1.1\r\nhost: repro\r\ncontent-length: 6\r\ntransfer-encoding: chunked\r\n\r\n"
    b"0\r\n\r\nGET /admin HTTP/1.1\r\nhost: repro\r\n\r\n"
)

with tempfile.TemporaryDirectory(prefix="repro-log-") as tmp:
    log_path = Path(tmp) / "access.log"

    def records() -> list:
        text = log_path.read_text() if log_path.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    with (
        Upstream(http1_app(lambda request: (200, [], b"hi"))) as up,
        Proxy(http_config(up.port, hcm={"access_log": {"path": str(log_path)}})) as proxy,
    ):
        refused = exchange(proxy.port("web"), SMUGGLE)
        status, _, _ = http1_request(proxy.port("web"), "GET", "/after")  # logged after the refusal's line
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(r["attributes"].get("url.path") == "/after" for r in records()):
            time.sleep(0.05)
    logged = records()
check(refused.startswith(b"HTTP/1.1 400"), f"the smuggling attempt got {refused[:40]!r}, not a 400")
check(status == 200, f"the GET after it got {status}")
statuses = [r["attributes"].get("http.response.status_code") for r in logged]
check(
    400 in statuses,
    f"a Content-Length + Transfer-Encoding request was refused with a 400 but the access log has "
    f"{len(logged)} line(s), statuses {statuses}",
)
ok(f"the refused request is in the access log: statuses {statuses}")
