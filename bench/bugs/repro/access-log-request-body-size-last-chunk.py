"""The access log's http.request.body.size is the whole request body the client sent (Envoy's
%BYTES_RECEIVED%), however many reads or DATA frames it came in."""

import json
import tempfile
import time
from pathlib import Path

from _live import Proxy, Upstream, check, http1_app, http1_request, http_config, ok

BODY = b"x" * 200_000  # more than one 16 KiB read

with tempfile.TemporaryDirectory(prefix="repro-log-") as tmp:
    log_path = Path(tmp) / "access.log"
    with (
        Upstream(http1_app(lambda request: (200, [], b"stored"))) as up,
        Proxy(http_config(up.port, hcm={"access_log": {"path": str(log_path)}})) as proxy,
    ):
        status, _, _ = http1_request(proxy.port("web"), "POST", "/upload", body=BODY)
        check(status == 200, f"the POST got {status}")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (log_path.exists() and log_path.read_text().strip()):
            time.sleep(0.05)
    lines = log_path.read_text().splitlines() if log_path.exists() else []
check(len(lines) == 1, f"expected one access log line, got {len(lines)}")
size = json.loads(lines[0])["attributes"]["http.request.body.size"]
check(size == len(BODY), f"the access log says the request body was {size} bytes; the client sent {len(BODY)}")
ok(f"http.request.body.size {size} == the {len(BODY)} bytes sent")
