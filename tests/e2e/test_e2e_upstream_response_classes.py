"""The running proxy counts each cluster's upstream responses by class as well as by code.

Envoy's cluster statistics have `upstream_rq_<*xx>` ("Aggregate HTTP response codes") beside
`upstream_rq_<*>`; dashboards and alerts read the classes (`cluster.<name>.upstream_rq_5xx`). Live
(BLACKBOX 12-04g, /stats after h2load and curl runs): only the codes were there, so such an alert
read 0 whatever the upstream answered."""

import json
import socketserver
import urllib.request

from conftest import connect, recv_all
from tests.e2e.stack import cluster, http_config, proxy_on, read_request_head, upstreams


class _StatusFromPath(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        head = read_request_head(self.request)
        if head:
            status = head.split(b" ", 2)[1].strip(b"/")  # GET /503 HTTP/1.1: 503
            self.request.sendall(b"HTTP/1.1 " + status + b" X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")


def _admin_stats(proc) -> dict:
    line = next(line for line in proc.stderr_lines if line.startswith("proxy: admin on "))
    host, port = line.removeprefix("proxy: admin on ").strip().rsplit(":", 1)
    with urllib.request.urlopen(f"http://{host}:{port}/stats?format=json", timeout=5) as response:
        return {s["name"]: s["value"] for s in json.load(response)["stats"]}


def test_upstream_responses_are_counted_by_class(tmp_path):
    with upstreams(_StatusFromPath) as (up,):
        config = http_config(
            ['{match: {prefix: "/"}, route: {cluster: web}}'], [cluster("web", up.server_address[1])], admin=True
        )
        with proxy_on(tmp_path, config) as proc:
            for status in (200, 204, 404, 503):
                with connect(proc.listener_address("http_in")) as s:
                    s.sendall(f"GET /{status} HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n".encode())
                    assert recv_all(s).startswith(f"HTTP/1.1 {status} ".encode())
            stats = _admin_stats(proc)
    counted = {k: stats.get(f"cluster.web.upstream_rq_{k}") for k in ("200", "204", "2xx", "404", "4xx", "503", "5xx")}
    assert counted == {"200": 1, "204": 1, "2xx": 2, "404": 1, "4xx": 1, "503": 1, "5xx": 1}, counted
