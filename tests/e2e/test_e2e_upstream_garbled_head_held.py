"""An HTTP/1.1 upstream that sends a garbled response line and then nothing, keeping its connection
open, through the running proxy (`python -m proxy`). Envoy's parser judges the status line at its
line end (balsa; http-parser judges each byte as it comes), so the client gets a 503 flagged UPE at
once, not the route timeout's 504. Found live: the proxy judged a head only once it was whole or
the upstream closed, so each such request waited the whole route timeout (a 504 UT)."""

import json
import socketserver
import threading
import time

import httpx
import pytest

from tests.e2e.stack import cluster, http_config, proxy_on, read_request_head, upstreams

ROUTE_TIMEOUT_S = 8  # what a request would wait for without the fix; the client gives up sooner
CLIENT_TIMEOUT_S = 4

# Answers by path, none of them with the blank line that ends a head.
HELD_ANSWERS = {
    b"/status-not-digits": b"HTTP/1.1 2OO OK\r\n",
    b"/status-four-digits": b"HTTP/1.1 2000 OK\r\nserver: x\r\n",
    b"/control-in-reason": b"HTTP/1.1 200 O\x01K\r\n",
    b"/field-without-colon": b"HTTP/1.1 200 OK\r\nserver: x\r\nno colon here\r\n",
    b"/obs-fold": b"HTTP/1.1 200 OK\r\nserver: x\r\n folded\r\n",
}
CONTROL = b"/valid-so-far"  # a head that is fine as far as it goes: it may still end well
HELD_ANSWERS[CONTROL] = b"HTTP/1.1 200 OK\r\nserver: x\r\n"

released = threading.Event()  # set at teardown: the held upstream connections end


class _Holding(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        head = read_request_head(self.request)
        if not head:
            return
        self.request.sendall(HELD_ANSWERS[head.split(b" ", 2)[1]])
        released.wait(ROUTE_TIMEOUT_S + CLIENT_TIMEOUT_S)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("garbled_head_held")
    log = tmp / "access.log"
    released.clear()
    with upstreams(_Holding) as (up,):
        routes = [f'{{match: {{prefix: "/"}}, route: {{cluster: up, timeout_ms: {ROUTE_TIMEOUT_S * 1000}}}}}']
        config = http_config(routes, [cluster("up", up.server_address[1])], hcm_extra=f"access_log: {{path: {log}}}")
        with proxy_on(tmp, config) as proc:
            host, port = proc.listener_address("http_in")
            try:
                yield f"http://{host}:{port}", log
            finally:
                released.set()


def _flag_of(log, path: str) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines() if log.exists() else []:
            attributes = json.loads(line)["attributes"]
            if attributes["url.path"] == path:
                return attributes["proxy.response_flags"]
        time.sleep(0.05)
    raise AssertionError(f"no access log record for {path}")


@pytest.mark.parametrize("path", sorted(p.decode() for p in HELD_ANSWERS if p != CONTROL))
def test_a_garbled_line_from_an_upstream_that_stays_open_is_a_503_at_once(stack, path):
    base, log = stack
    response = httpx.get(base + path, timeout=CLIENT_TIMEOUT_S)  # ReadTimeout before the fix
    assert response.status_code == 503
    assert _flag_of(log, path) == "UPE"


def test_a_head_valid_so_far_is_still_awaited(stack):
    base, _log = stack
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(base + CONTROL.decode(), timeout=1)
