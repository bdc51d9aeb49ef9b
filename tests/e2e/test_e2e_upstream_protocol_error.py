"""Upstreams that break HTTP, or close under a request, through the running proxy (`python -m proxy`):
what the client gets, the access log's response flag and the cluster's counters, as Envoy's
(access log %RESPONSE_FLAGS%: UPE "the upstream response had an HTTP protocol error", UC "upstream
connection termination", UR "upstream remote reset"; cluster stat upstream_cx_protocol_error "total
connection protocol errors"). Found live: every one of them was a 503 flagged UR, and no counter
told an operator that an upstream spoke broken HTTP."""

import json
import socketserver
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import httpx
import pytest

from tests.e2e.stack import cluster, http_config, proxy_on, upstreams
from tests.e2e.test_e2e_resources import _stats

ROUTES = ['{match: {prefix: "/h2"}, route: {cluster: h2_up}}', '{match: {prefix: "/"}, route: {cluster: h1_up}}']

# HTTP/1.1 answers by path: a response head h11 cannot parse, the same garbled line then a close
# before the head ends (Envoy's parser judges each line as it comes: UPE, not UC), a close before
# any answer.
H1_ANSWERS = {
    b"/garbage": b"HTTP/1.1 200 OK\r\nno colon here\r\ncontent-length: 0\r\n\r\n",
    b"/garbage-cut-short": b"HTTP/1.1 200 OK\r\nno colon here\r\n",
    b"/close": b"",
}


class _H1(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        held = b""
        while b"\r\n\r\n" not in held:
            data = self.request.recv(65536)
            if not data:
                return
            held += data
        path = held.split(b" ", 2)[1]
        self.request.sendall(H1_ANSWERS[path])


class _H2(socketserver.BaseRequestHandler):
    """HTTP/2: /h2/reset gets RST_STREAM(INTERNAL_ERROR); /h2/garbage a DATA frame on stream 0 (a
    connection error, RFC 9113 6.1)."""

    def handle(self) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        conn.initiate_connection()
        self.request.sendall(conn.data_to_send())
        while data := self.request.recv(65536):
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    if dict(ev.headers)[b":path"] == b"/h2/reset":
                        conn.reset_stream(ev.stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
                    else:
                        self.request.sendall(conn.data_to_send() + b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
            self.request.sendall(conn.data_to_send())


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("protocol_error")
    log = tmp / "access.log"
    with upstreams(_H1, _H2) as (h1, h2_up):
        clusters = [
            cluster("h1_up", h1.server_address[1]),
            cluster("h2_up", h2_up.server_address[1], "protocol: HTTP2"),
        ]
        config = http_config(ROUTES, clusters, hcm_extra=f"access_log: {{path: {log}}}", admin=True)
        with proxy_on(tmp, config) as proc:
            host, port = proc.listener_address("http_in")
            yield proc, f"http://{host}:{port}", log


def _last_record(log, n: int) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= n:
            return json.loads(lines[n - 1])["attributes"]
        time.sleep(0.05)
    raise AssertionError(f"{n} access log records expected")


# In the order the module's tests run (one proxy, one log): path, flag, protocol errors counted after.
CASES = [
    ("/garbage", "UPE", {"h1_up": 1}),
    ("/garbage-cut-short", "UPE", {"h1_up": 2}),
    ("/close", "UC", {"h1_up": 2}),
    ("/h2/reset", "UR", {"h1_up": 2}),
    ("/h2/garbage", "UPE", {"h1_up": 2, "h2_up": 1}),
]


@pytest.mark.parametrize("n", range(len(CASES)))
def test_an_upstream_failure_is_a_503_with_envoys_flag_and_counter(stack, n):
    proc, base, log = stack
    path, flag, protocol_errors = CASES[n]
    response = httpx.get(base + path, timeout=10)
    assert response.status_code == 503
    assert _last_record(log, n + 1)["proxy.response_flags"] == flag
    stats = _stats(proc)
    for name in ("h1_up", "h2_up"):
        assert stats.get(f"cluster.{name}.upstream_cx_protocol_error", 0) == protocol_errors.get(name, 0)
