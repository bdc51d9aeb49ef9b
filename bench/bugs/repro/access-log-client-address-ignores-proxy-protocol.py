"""Access log behind a load balancer: with the proxy_protocol listener filter, the record's
client.address and client.port are the client the PROXY header names (Envoy's
%DOWNSTREAM_REMOTE_ADDRESS%), not the load balancer's own connection."""

import json
import tempfile
import time
from pathlib import Path

from _live import Proxy, check, connect, free_port, http_config, ok, read_response, request_bytes

HEADER = b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n"

with tempfile.TemporaryDirectory() as tmp:
    log = Path(tmp) / "access.log"
    config = http_config(
        free_port(),
        hcm={"access_log": {"path": str(log)}},
        listener={"listener_filters": [{"proxy_protocol": {}}]},
        routes=[{"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": "hi"}}],
    )
    with Proxy(config) as proxy:
        with connect(proxy.port("web")) as sock:
            sock.sendall(HEADER + request_bytes("GET", "/who"))
            answer = read_response(sock)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (log.exists() and log.read_text().strip()):
            time.sleep(0.05)
        lines = log.read_text().splitlines() if log.exists() else []
check(answer is not None and answer[0] == 200, f"the request behind a PROXY header got {answer}")
check(len(lines) == 1, f"the access log has {len(lines)} lines for one request")
attributes = json.loads(lines[0])["attributes"]
seen = (attributes.get("client.address"), attributes.get("client.port"))
check(
    seen == ("203.0.113.7", 5555),
    f"the access log names the client {seen}; the PROXY header said 203.0.113.7:5555",
)
ok("the access log named the client the PROXY header gave")
