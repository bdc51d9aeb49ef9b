"""The access log of the running proxy names the endpoint a failed upstream connection was for.

Envoy's %UPSTREAM_HOST% on a UF record is the host the pool failed to connect to (Router's
onPoolFailure reports it); the record said "-", so an operator could not tell which endpoint of a
cluster was down. Live: two endpoints, one refusing connections, round robin: the 503 UF records
named no host."""

import httpx

from conftest import LOOPBACK, free_port
from tests.e2e.stack import access_log_records, web_config
from tests.e2e.test_e2e_resources import _start


def test_a_connect_failure_is_logged_with_the_host_that_refused(proxy_process, tmp_path):
    down = free_port()  # nothing listens there: every connection is refused
    log = tmp_path / "access.log"
    text = web_config(down, hcm=f"access_log: {{path: {log}}}")
    proxy, (host, port) = _start(proxy_process, tmp_path, text)
    with httpx.Client(timeout=5) as client:
        response = client.get(f"http://{host}:{port}/down")
    assert response.status_code == 503
    (record,) = [r["attributes"] for r in access_log_records(log, 1)]
    assert record["proxy.response_flags"] == "UF"
    assert record["proxy.upstream.host"] == f"{LOOPBACK}:{down}"
